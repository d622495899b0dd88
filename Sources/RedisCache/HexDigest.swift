import Crypto

/// The two digests the cache names things by, as lowercase hex, computed by swift-crypto:
/// SHA-1 for scripts (what `SCRIPT LOAD` returns and `EVALSHA` takes; an identifier, not
/// security) and SHA-256 for derived entries' parameter hashes.
public enum HexDigest {
    /// 40 lowercase hex digits: the SHA-1 of `bytes`.
    public static func sha1(_ bytes: some Sequence<UInt8>) -> String {
        hex(Insecure.SHA1.hash(data: Array(bytes)))
    }

    /// 64 lowercase hex digits: the SHA-256 of `bytes`.
    public static func sha256(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    private static func hex(_ digest: some Digest) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(Int(type(of: digest).byteCount) * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
