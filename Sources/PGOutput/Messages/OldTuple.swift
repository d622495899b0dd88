/// The old row image sent with an Update or Delete.
public enum OldTuple: Hashable, Sendable {
    /// `K`: only the replica identity key columns are set; the rest are null.
    case key(TupleData)
    /// `O`: the complete old row (`REPLICA IDENTITY FULL`).
    case full(TupleData)

    /// The tuple itself, whichever kind.
    public var tuple: TupleData {
        switch self {
        case .key(let tuple), .full(let tuple): tuple
        }
    }
}
