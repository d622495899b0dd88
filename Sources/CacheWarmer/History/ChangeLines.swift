import Foundation
import NIOCore
import PGOutput

/// Renders decoded pgoutput messages as JSON lines for `cache-warmer peek`: one object per row
/// change, TRUNCATE and logical message, with the transaction's commit LSN, xid and commit time.
/// Values are the text pgoutput sent (JSON strings), SQL NULL is `null`, an unchanged TOAST value
/// the server did not send is `{"unchanged_toast":true}`, binary values `{"binary":"<hex>"}`.
/// `key` holds the replica identity columns as the Relation message marks them (every column
/// with `REPLICA IDENTITY FULL`). Members appear in a fixed order; no whitespace.
public struct ChangeLines: Sendable {
    private var relations = RelationCache()
    private var transaction: (commitLSN: LSN, xid: UInt32, commitTime: PostgresTimestamp)?

    /// A renderer at the start of a session (Relation messages follow before the first change).
    public init() {}

    /// The commit time of the transaction in progress (nil between transactions).
    public var commitTime: PostgresTimestamp? { transaction?.commitTime }

    /// The lines for `message` (none for Begin, Commit, Relation, Type, Origin). `lsn` is the
    /// message's WAL position (used for non-transactional logical messages).
    public mutating func lines(for message: PGOutputMessage) throws(PGOutputError) -> [String] {
        switch message {
        case .begin(let begin):
            transaction = (begin.finalLSN, begin.xid, begin.commitTimestamp)
            return []
        case .commit:
            transaction = nil
            return []
        case .relation(let relation):
            relations.apply(relation)
            return []
        case .insert(let insert):
            let relation = try relations.relation(insert.relationOID)
            return [change(relation, "insert", key: insert.newTuple, old: nil, new: insert.newTuple)]
        case .update(let update):
            let relation = try relations.relation(update.relationOID)
            return [change(relation, "update", key: update.newTuple, old: update.oldTuple, new: update.newTuple)]
        case .delete(let delete):
            let relation = try relations.relation(delete.relationOID)
            return [change(relation, "delete", key: delete.oldTuple.tuple, old: delete.oldTuple, new: nil)]
        case .truncate(let truncate):
            var line = header()
            line += ",\"op\":\"truncate\",\"tables\":["
            line += try truncate.relationOIDs.map { oid throws(PGOutputError) in Self.string(Self.tableName(try relations.relation(oid))) }.joined(separator: ",")
            line += "],\"cascade\":\(truncate.options.contains(.cascade)),\"restart_identity\":\(truncate.options.contains(.restartIdentity))}"
            return [line]
        case .message(let logical):
            var line = logical.isTransactional && transaction != nil ? header() : "{\"lsn\":\(Self.string("\(logical.lsn)"))"
            line += ",\"op\":\"message\",\"transactional\":\(logical.isTransactional),\"prefix\":\(Self.string(logical.prefix)),"
            if let text = String(validating: logical.content.readableBytesView, as: UTF8.self) {
                line += "\"content\":\(Self.string(text))}"
            } else {
                line += "\"content_hex\":\"\(Self.hex(logical.content))\"}"
            }
            return [line]
        default:
            return []
        }
    }

    /// The tables (`schema.table`) a change message names: one for a row change, each truncated
    /// one for TRUNCATE, none otherwise.
    public func tables(of message: PGOutputMessage) -> [String] {
        let oids: [UInt32] = switch message {
        case .insert(let insert): [insert.relationOID]
        case .update(let update): [update.relationOID]
        case .delete(let delete): [delete.relationOID]
        case .truncate(let truncate): truncate.relationOIDs
        default: []
        }
        return oids.compactMap { relations[$0].map(Self.tableName) }
    }

    /// `{"commit_lsn":...,"xid":...,"commit_time":...` (no closing brace).
    private func header() -> String {
        guard let transaction else { return "{\"commit_lsn\":null,\"xid\":null,\"commit_time\":null" }
        return "{\"commit_lsn\":\(Self.string("\(transaction.commitLSN)")),\"xid\":\(transaction.xid),\"commit_time\":\(Self.string(Self.timeText(transaction.commitTime)))"
    }

    private func change(_ relation: RelationMessage, _ operation: String, key: TupleData, old: OldTuple?, new: TupleData?) -> String {
        var line = header()
        line += ",\"table\":\(Self.string(Self.tableName(relation))),\"op\":\"\(operation)\",\"key\":"
        line += Self.object(relation, key, only: { $0.isKey })
        if let old {
            switch old {
            case .key(let tuple):
                line += ",\"old_kind\":\"key\",\"old\":" + Self.object(relation, tuple, only: { $0.isKey })
            case .full(let tuple):
                line += ",\"old_kind\":\"full\",\"old\":" + Self.object(relation, tuple, only: { _ in true })
            }
        }
        if let new { line += ",\"new\":" + Self.object(relation, new, only: { _ in true }) }
        return line + "}"
    }

    /// `schema.table` as the Relation message names it.
    static func tableName(_ relation: RelationMessage) -> String {
        "\(relation.namespace).\(relation.name)"
    }

    private static func object(_ relation: RelationMessage, _ tuple: TupleData, only include: (RelationMessage.Column) -> Bool) -> String {
        var members: [String] = []
        for (column, value) in zip(relation.columns, tuple.values) where include(column) {
            members.append(string(column.name) + ":" + Self.value(value))
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func value(_ value: TupleValue) -> String {
        switch value {
        case .null: return "null"
        case .unchangedToast: return "{\"unchanged_toast\":true}"
        case .binary(let bytes): return "{\"binary\":\"\(hex(bytes))\"}"
        case .text(let bytes):
            if let text = String(validating: bytes.readableBytesView, as: UTF8.self) { return string(text) }
            return "{\"text_hex\":\"\(hex(bytes))\"}"
        }
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`, `\t`, ... or `\u00xx`.
    static func string(_ text: String) -> String {
        var output = "\""
        output.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case _ where scalar.value < 0x20:
                output += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output + "\""
    }

    static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// ISO 8601 UTC with microseconds: `2026-11-29T13:01:44.123456Z`.
    static func timeText(_ timestamp: PostgresTimestamp) -> String {
        let micros = timestamp.unixMicroseconds
        var seconds = time_t(micros.floorDiv(1_000_000))
        let fraction = micros - Int64(seconds) * 1_000_000
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let fractionText = String(fraction)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour),
            Int(parts.tm_min), Int(parts.tm_sec)) + String(repeating: "0", count: 6 - fractionText.count) + fractionText + "Z"
    }
}

extension Int64 {
    /// Division rounding towards negative infinity.
    fileprivate func floorDiv(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
