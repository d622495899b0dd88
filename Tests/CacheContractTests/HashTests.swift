import CacheContract
import Foundation
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// SHA-1 (script names) and SHA-256 (parameter hashes), computed by swift-crypto, in the forms
/// the servers that must agree with them compute.
@Suite struct HashTests {
    @Test func hexDigestsMatchPublishedVectors() {
        #expect(HexDigest.sha1("abc".utf8) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(HexDigest.sha256("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, against Postgres' sha256().
    @Test func sha256AgreesWithPostgres() throws {
        let postgres = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let text = String((0..<length).map { index in Character(UnicodeScalar(UInt8(32 + (index * 7) % 90))) })
            let hex = text.utf8.map { String(format: "%02x", $0) }.joined()
            let expected = try postgres.execute("SELECT encode(sha256(decode('\(hex)', 'hex')), 'hex')").scalar
            #expect(HexDigest.sha256(text.utf8) == expected, "length \(length)")
        }
    }

    /// Redis names a loaded script by its SHA-1: ours must be the same, or EVALSHA never hits.
    @Test func sha1AgreesWithRedisScriptLoad() throws {
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        for length in [0, 55, 56, 64, 65, 200] {
            let source = "return '" + String(repeating: "x", count: length) + "'"
            #expect(try redis.command(["SCRIPT", "LOAD", source]).text == HexDigest.sha1(source.utf8))
        }
        for script in CacheScripts.all {
            #expect(try redis.command(["SCRIPT", "LOAD", script.source]).text == script.sha1, "\(script.name)")
        }
    }

    @Test func parameterHashIsTheTruncatedSHA256OfTheCanonicalJSON() {
        let parameters = CanonicalParameters(["q": .string("é"), "limit": .integer(20)])
        #expect(parameters.json == #"{"q": "é", "limit": 20}"#)
        #expect(parameters.hash == String(HexDigest.sha256(parameters.json.utf8).prefix(32)))
        #expect(parameters.hash.utf8.count == 32)
    }
}
