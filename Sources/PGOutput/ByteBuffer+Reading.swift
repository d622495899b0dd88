import NIOCore

/// Throwing, bounds-checked reads for wire decoding: a short buffer raises
/// ``PGOutputError/Code-swift.struct/truncatedMessage`` instead of trapping.
extension ByteBuffer {
    mutating func readWire<T: FixedWidthInteger>(_ field: StaticString, as _: T.Type = T.self) throws(PGOutputError) -> T {
        guard let value = readInteger(as: T.self) else {
            throw PGOutputError(code: .truncatedMessage, offset: readerIndex, detail: "\(field) needs \(MemoryLayout<T>.size) bytes, \(readableBytes) left")
        }
        return value
    }

    mutating func readWireLSN(_ field: StaticString) throws(PGOutputError) -> LSN {
        LSN(try readWire(field, as: UInt64.self))
    }

    mutating func readWireTimestamp(_ field: StaticString) throws(PGOutputError) -> PostgresTimestamp {
        PostgresTimestamp(rawValue: try readWire(field, as: Int64.self))
    }

    /// Reads a NUL-terminated UTF-8 string.
    mutating func readWireString(_ field: StaticString) throws(PGOutputError) -> String {
        let start = readerIndex
        guard let nul = readableBytesView.firstIndex(of: 0) else {
            throw PGOutputError(code: .stringNotTerminated, offset: start, detail: "\(field)")
        }
        let length = nul - start
        let bytes = readableBytesView[start..<nul]
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw PGOutputError(code: .invalidUTF8, offset: start, detail: "\(field)")
        }
        moveReaderIndex(forwardBy: length + 1)
        return string
    }

    /// Reads a signed 32-bit length and then that many bytes as a slice.
    mutating func readWireLengthPrefixed(_ field: StaticString) throws(PGOutputError) -> ByteBuffer {
        let lengthOffset = readerIndex
        let length: Int32 = try readWire(field)
        guard length >= 0 else {
            throw PGOutputError(code: .negativeLength, offset: lengthOffset, detail: "\(field) length \(length)")
        }
        guard let slice = readSlice(length: Int(length)) else {
            throw PGOutputError(code: .truncatedMessage, offset: readerIndex, detail: "\(field) needs \(length) bytes, \(readableBytes) left")
        }
        return slice
    }

    /// Fails with ``PGOutputError/Code-swift.struct/trailingBytes`` unless every byte was read.
    func expectFullyConsumed() throws(PGOutputError) {
        guard readableBytes == 0 else {
            throw PGOutputError(code: .trailingBytes, offset: readerIndex, detail: "\(readableBytes) bytes after the last field")
        }
    }

    /// Hex of the first `limit` readable bytes (with an ellipsis when cut), for error reports.
    func hexPrefix(limit: Int) -> String {
        let bytes = readableBytesView.prefix(limit)
        var text = bytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        if readableBytes > limit { text += "…(\(readableBytes) bytes)" }
        return text
    }
}
