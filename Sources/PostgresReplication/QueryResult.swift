/// The rows of a simple-protocol query, as text, copied out of libpq's memory.
public struct QueryResult: Sendable, Hashable {
    /// The column names, in order.
    public var columns: [String]
    /// The rows; nil for SQL NULL.
    public var rows: [[String?]]
    /// The command tag, e.g. `INSERT 0 1`.
    public var commandTag: String

    /// Makes a result.
    public init(columns: [String], rows: [[String?]], commandTag: String) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
    }

    /// The first column of the first row, if any.
    public var scalar: String? {
        rows.first?.first ?? nil
    }

    /// The value of `column` in row `row`, or nil.
    public func value(_ column: String, row: Int = 0) -> String? {
        guard let index = columns.firstIndex(of: column), rows.indices.contains(row) else { return nil }
        return rows[row][index]
    }
}
