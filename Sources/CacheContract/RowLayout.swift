import PGOutput

/// What ``CanonicalJSON/row(_:layout:)`` needs to know about a table's columns, worked out once
/// per Relation message instead of per row: the jsonb order of the columns, their keys as
/// escaped JSON, and their type kinds. A class: the worker looks it up per row, and one
/// reference costs less to hand around than its five arrays; immutable, hence `Sendable`.
public final class RowLayout: Sendable {
    /// The columns' names in the relation's order.
    public let names: [String]
    /// Each column's kind in the relation's order (nil: a type the renderer does not know).
    let kinds: [PostgresTypeKind?]
    /// Column indices in jsonb key order.
    let order: [Int]
    /// `"name": ` as JSON for each position of ``order``.
    let keys: [[UInt8]]
    /// True when two columns share a name (the general path decides which one wins).
    let hasDuplicateNames: Bool

    /// The layout of columns `names` of types `typeOIDs` (same count, the relation's order).
    public init(names: [String], typeOIDs: [UInt32], types: PostgresTypes = .builtin) {
        self.names = names
        kinds = typeOIDs.map { types.kind(of: $0) }
        let order = names.indices.sorted { JSONObject.jsonbKeyOrder(names[$0], names[$1]) }
        self.order = order
        keys = order.map { index in
            var writer = JSONWriter()
            writer.writeString(names[index].utf8)
            writer.append(": ")
            return writer.bytes
        }
        hasDuplicateNames = zip(order, order.dropFirst()).contains { names[$0].utf8.elementsEqual(names[$1].utf8) }
    }
}

extension CanonicalJSON {
    /// A row's canonical JSON from its tuple's values (the relation's column order) and the
    /// relation's ``RowLayout``: the same bytes as ``row(_:types:)``. Nil when the row needs the
    /// general path (a `u` or `b` column, text that does not fit its type, duplicate names): call
    /// ``row(_:types:)`` then, which renders it or says why it cannot.
    public static func row(_ values: [TupleValue], layout: RowLayout) -> CanonicalRow? {
        guard !layout.hasDuplicateNames, values.count == layout.names.count else { return nil }
        var unverified: [String] = []
        var size = 2
        for (index, value) in values.enumerated() {
            size += value.byteCount + layout.keys[index].count + 2
            if layout.kinds[index] == nil, case .text = value { unverified.append(layout.names[index]) }
        }
        var writer = JSONWriter()
        writer.reserveCapacity(size + size / 8)
        writer.append("{")
        for (position, index) in layout.order.enumerated() {
            if position > 0 { writer.append(", ") }
            writer.appendRaw(layout.keys[position])
            switch values[index] {
            case .null: writer.append("null")
            case .unchangedToast, .binary: return nil
            case .text(let buffer):
                guard writeText(buffer.readableBytesView, kind: layout.kinds[index] ?? .string, into: &writer) else { return nil }
            }
        }
        writer.append("}")
        return CanonicalRow(json: writer.text, unverifiedColumns: unverified)
    }
}
