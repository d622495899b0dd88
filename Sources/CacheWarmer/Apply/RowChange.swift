import PGOutput

/// One decoded row change of a committed transaction, with its relation's description.
public enum RowChange: Sendable {
    /// A new row.
    case insert(RelationMessage, new: TupleData)
    /// A changed row, with the old key or row when the server sent it.
    case update(RelationMessage, old: OldTuple?, new: TupleData)
    /// A removed row.
    case delete(RelationMessage, old: OldTuple)
    /// Every row of these relations was removed.
    case truncate([RelationMessage])
}
