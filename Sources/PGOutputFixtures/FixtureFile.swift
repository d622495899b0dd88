import Foundation
import NIOCore
import PGOutput

/// A pgoutput stream captured from a real Postgres by `Scripts/capture-pgoutput-fixtures.sh`:
/// `# ` header lines (the options, e.g. `proto_version=2`), then one message per line as
/// `lsn<TAB>xid<TAB>hex`. Shared by the tests, the benchmark and the fuzzer's seed corpus.
public struct FixtureFile: Sendable {
    /// One captured message with the position and transaction the slot reported for it.
    public struct Line: Sendable {
        /// The LSN the slot reported (for a Commit, its end LSN).
        public var lsn: LSN
        /// The transaction id the slot reported.
        public var xid: UInt32
        /// The pgoutput message bytes.
        public var bytes: ByteBuffer
    }

    /// The fixture's name (file name without `.txt`).
    public var name: String
    /// The `proto_version` the stream was read with.
    public var protocolVersion: Int
    /// The messages in stream order.
    public var lines: [Line]

    /// Reads and parses a fixture file; throws with the file and line on malformed content.
    public init(contentsOf url: URL) throws {
        self.name = url.deletingPathExtension().lastPathComponent
        let text = try String(contentsOf: url, encoding: .utf8)
        var version = 1
        var lines: [Line] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !raw.isEmpty {
            if raw.hasPrefix("#") {
                if let range = raw.range(of: "proto_version=") {
                    version = Int(raw[range.upperBound...].prefix(while: \.isNumber)) ?? 1
                }
                continue
            }
            let fields = raw.split(separator: "\t")
            guard fields.count == 3, let lsn = LSN(fields[0]), let xid = UInt32(fields[1]), let bytes = ByteBuffer(hexString: fields[2]) else {
                throw FixtureFormatError(file: url.path, line: number + 1)
            }
            lines.append(Line(lsn: lsn, xid: xid, bytes: bytes))
        }
        self.protocolVersion = version
        self.lines = lines
    }

    /// Decodes every line in order with one session decoder.
    public func decodeAll() throws -> [PGOutputMessage] {
        var decoder = try PGOutputDecoder(protocolVersion: protocolVersion)
        return try lines.map { try decoder.decode($0.bytes) }
    }
}

/// A fixture file line that is not `lsn<TAB>xid<TAB>hex`.
public struct FixtureFormatError: Error, CustomStringConvertible {
    /// The file's path.
    public var file: String
    /// The 1-based line number.
    public var line: Int

    public var description: String { "\(file):\(line): not an 'lsn<TAB>xid<TAB>hex' fixture line" }
}

extension ByteBuffer {
    /// Bytes from an even-length hex string, or nil.
    public init?(hexString: some StringProtocol) {
        let digits = Array(hexString.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.init(bytes: bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
