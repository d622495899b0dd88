import Foundation
import NIOCore
import PGOutput
import PGOutputFixtures

/// The fixtures under `Fixtures/`, by name.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static var allNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
    }

    static func callAsFunction(_ name: String) throws -> FixtureFile {
        try FixtureFile(contentsOf: directory.appendingPathComponent("\(name).txt"))
    }
}

/// Builds message bytes for hand-made tests.
struct Bytes {
    var buffer = ByteBuffer()

    init(_ type: Character? = nil) {
        if let type { buffer.writeInteger(UInt8(ascii: type.unicodeScalars.first!)) }
    }

    func u8(_ value: UInt8) -> Bytes { var copy = self; copy.buffer.writeInteger(value); return copy }
    func i16(_ value: Int16) -> Bytes { var copy = self; copy.buffer.writeInteger(value); return copy }
    func i32(_ value: Int32) -> Bytes { var copy = self; copy.buffer.writeInteger(value); return copy }
    func u32(_ value: UInt32) -> Bytes { var copy = self; copy.buffer.writeInteger(value); return copy }
    func u64(_ value: UInt64) -> Bytes { var copy = self; copy.buffer.writeInteger(value); return copy }
    func char(_ value: Character) -> Bytes { u8(UInt8(ascii: value.unicodeScalars.first!)) }
    func cstring(_ value: String) -> Bytes { var copy = self; copy.buffer.writeString(value); copy.buffer.writeInteger(UInt8(0)); return copy }
    func raw(_ bytes: [UInt8]) -> Bytes { var copy = self; copy.buffer.writeBytes(bytes); return copy }
    func text(_ value: String) -> Bytes { char("t").i32(Int32(value.utf8.count)).raw(Array(value.utf8)) }
}
