/// Redis Cluster key hashing: the hash slot (0...16383) of a key is `CRC16(key) mod 16384`,
/// hashing only the hash tag when the key has one (Redis Cluster specification, "Keys
/// distribution model" and "Hash tags").
public enum RedisClusterSlot {
    /// The number of hash slots of a Redis Cluster.
    public static let count = 16384

    /// The hash slot of `key` (its UTF-8 bytes).
    public static func of(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { of(UnsafeRawBufferPointer($0)) }
    }

    /// The hash slot of a binary key.
    public static func of(_ key: [UInt8]) -> Int {
        key.withUnsafeBytes { of($0) }
    }

    /// The hash slot of the bytes in `key`.
    static func of(_ key: UnsafeRawBufferPointer) -> Int {
        let tag = hashTag(key)
        return Int(crc16(UnsafeRawBufferPointer(rebasing: key[tag]))) & (count - 1)
    }

    /// The part of `key` that is hashed ("Hash tags"): the bytes between the first `{` and the
    /// first `}` after it when there is at least one byte between them, else the whole key.
    /// So `{user1000}.following` hashes `user1000`, `foo{}{bar}` and `foo{bar` hash the whole
    /// key, `foo{{bar}}zap` hashes `{bar`, and `foo{bar}{zap}` hashes `bar`.
    static func hashTag(_ key: UnsafeRawBufferPointer) -> Range<Int> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")) else { return 0..<key.count }
        guard let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 else { return 0..<key.count }
        return (open + 1)..<close
    }

    /// CRC16 as Redis Cluster uses it ("Keys distribution model", appendix "CRC16 reference
    /// implementation"): CRC-16/XMODEM, polynomial 0x1021, initial value 0, no reflection, no
    /// final XOR. `crc16("123456789") == 0x31C3`.
    public static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    /// Byte-at-a-time table of the polynomial 0x1021.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
