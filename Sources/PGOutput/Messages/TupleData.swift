import NIOCore

/// One column of a row image as pgoutput sends it.
public enum TupleValue: Hashable, Sendable {
    /// SQL NULL (`n`).
    case null
    /// An unchanged TOASTed value that the server did not send (`u`): the row is incomplete.
    case unchangedToast
    /// The column's text output form (`t`).
    case text(ByteBuffer)
    /// The column's binary send form (`b`, only with `binary 'true'`).
    case binary(ByteBuffer)

    /// Bytes of the value as sent (0 for null and unchanged TOAST).
    public var byteCount: Int {
        switch self {
        case .null, .unchangedToast: 0
        case .text(let buffer), .binary(let buffer): buffer.readableBytes
        }
    }

    /// The text value as a String (nil for other kinds or invalid UTF-8).
    public var textValue: String? {
        guard case .text(let buffer) = self else { return nil }
        return String(validating: buffer.readableBytesView, as: UTF8.self)
    }
}

/// A row image (TupleData): one ``TupleValue`` per column of the relation, in column order.
public struct TupleData: Hashable, Sendable {
    /// The columns in the relation's column order.
    public var values: [TupleValue]

    /// Wraps column values.
    public init(values: [TupleValue]) {
        self.values = values
    }

    /// True when some column is an unsent TOAST value, so the row cannot be rendered fully.
    public var hasUnchangedToast: Bool {
        values.contains(.unchangedToast)
    }

    static func decode(from buffer: inout ByteBuffer) throws(PGOutputError) -> TupleData {
        let countOffset = buffer.readerIndex
        let count: Int16 = try buffer.readWire("tuple column count")
        guard count >= 0 else {
            throw PGOutputError(code: .negativeLength, offset: countOffset, detail: "tuple column count \(count)")
        }
        var values: [TupleValue] = []
        values.reserveCapacity(Int(count))
        for _ in 0..<count {
            let kindOffset = buffer.readerIndex
            let kind: UInt8 = try buffer.readWire("tuple column kind")
            switch kind {
            case UInt8(ascii: "n"): values.append(.null)
            case UInt8(ascii: "u"): values.append(.unchangedToast)
            case UInt8(ascii: "t"): values.append(.text(try buffer.readWireLengthPrefixed("text column")))
            case UInt8(ascii: "b"): values.append(.binary(try buffer.readWireLengthPrefixed("binary column")))
            default:
                throw PGOutputError(code: .badTupleKind, offset: kindOffset, detail: "kind byte 0x\(String(kind, radix: 16))")
            }
        }
        return TupleData(values: values)
    }
}
