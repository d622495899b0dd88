import CacheContract
import Foundation
import PostgresReplication
import RedisCache
import TestSupport
import Testing

/// SHA-1 (script names) and SHA-256 (parameter hashes) against published vectors and against
/// the servers that must agree with them.
@Suite struct HashTests {
    @Test func sha1MatchesPublishedVectors() {
        #expect(SHA1.hex("".utf8) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hex("abc".utf8) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8) == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    @Test func sha256MatchesPublishedVectors() {
        #expect(SHA256.hex("".utf8) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Lengths around the 55/56/64-byte padding boundaries, against Postgres' sha256().
    @Test func sha256AgreesWithPostgres() throws {
        let postgres = try PostgresConnection(ConnectionString(try StackEnvironment.require("DB_WRITER_URL")))
        for length in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            let text = String((0..<length).map { index in Character(UnicodeScalar(UInt8(32 + (index * 7) % 90))) })
            let hex = text.utf8.map { String(format: "%02x", $0) }.joined()
            let expected = try postgres.execute("SELECT encode(sha256(decode('\(hex)', 'hex')), 'hex')").scalar
            #expect(SHA256.hex(text.utf8) == expected, "length \(length)")
        }
    }

    /// Redis names a loaded script by its SHA-1: ours must be the same, or EVALSHA never hits.
    @Test func sha1AgreesWithRedisScriptLoad() throws {
        let redis = try RedisConnection(url: try RedisURL(try StackEnvironment.require("REDIS_URL")))
        for length in [0, 55, 56, 64, 65, 200] {
            let source = "return '" + String(repeating: "x", count: length) + "'"
            #expect(try redis.command(["SCRIPT", "LOAD", source]).text == SHA1.hex(source.utf8))
        }
        for script in CacheScripts.all {
            #expect(try redis.command(["SCRIPT", "LOAD", script.source]).text == script.sha1, "\(script.name)")
        }
    }

    @Test func parameterHashIsTheTruncatedSHA256OfTheCanonicalJSON() {
        let parameters = CanonicalParameters(["q": .string("é"), "limit": .integer(20)])
        #expect(parameters.json == #"{"q": "é", "limit": 20}"#)
        #expect(parameters.hash == String(SHA256.hex(parameters.json.utf8).prefix(32)))
        #expect(parameters.hash.utf8.count == 32)
    }
}
