/// A table cached by primary key.
public struct EntityConfiguration: Hashable, Sendable {
    /// How the worker keeps an entity's entries fresh.
    public enum Mode: String, Hashable, Sendable, CaseIterable {
        /// Rows are written to Redis from the WAL's row image (no database read).
        case writeThrough = "write-through"
        /// Entries are invalidated; readers refill them.
        case invalidate
    }

    /// The entity's name in keys (`order` gives `cw:order:<id>`).
    public var name: String
    /// The table.
    public var table: TableName
    /// The key columns, in key order (default `[id]`).
    public var key: [String]
    /// Write-through or invalidate (default write-through).
    public var mode: Mode
    /// Entry TTL in seconds (default: the configuration's `entry_ttl_s`).
    public var ttl: Double?
    /// Which rows `resync` and the warm-up fill (YAML `warm:`; default every row).
    public var warm: EntityWarm

    /// Makes an entity.
    public init(name: String, table: TableName, key: [String] = ["id"], mode: Mode = .writeThrough, ttl: Double? = nil, warm: EntityWarm = EntityWarm()) {
        self.name = name
        self.table = table
        self.key = key
        self.mode = mode
        self.ttl = ttl
        self.warm = warm
    }
}

/// The rows of an entity worth warming: a SQL filter and/or the first `limit` rows by `orderBy`
/// ("orders of the last 30 days", "the 100k most popular products").
public struct EntityWarm: Hashable, Sendable {
    /// A SQL condition on the table's columns (alias `t`), e.g. `"createdAt" > now() - interval '30 days'`.
    public var filter: String?
    /// A SQL ORDER BY list choosing which rows count when `limit` is set, e.g. `"popularityScore" DESC`.
    public var orderBy: String?
    /// At most this many rows (the first by `orderBy`).
    public var limit: Int?

    /// Warm settings (default: every row).
    public init(filter: String? = nil, orderBy: String? = nil, limit: Int? = nil) {
        self.filter = filter
        self.orderBy = orderBy
        self.limit = limit
    }
}

/// A cached query result (e.g. a catalog page) and the table changes that invalidate it.
public struct QueryConfiguration: Hashable, Sendable {
    /// Which changes of a table move this query's fences.
    public struct Dependency: Hashable, Sendable {
        /// The table whose changes matter.
        public var table: TableName
        /// Parameter matched on a column: a change moves the fence of the parameter values equal
        /// to the row's old and new column values; without it, or when a value is unknown, the
        /// whole query's fence moves.
        public var match: (parameter: String, column: String)?

        /// Makes a dependency.
        public init(table: TableName, match: (parameter: String, column: String)? = nil) {
            self.table = table
            self.match = match
        }

        public static func == (lhs: Dependency, rhs: Dependency) -> Bool {
            lhs.table == rhs.table && lhs.match?.parameter == rhs.match?.parameter && lhs.match?.column == rhs.match?.column
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(table)
            hasher.combine(match?.parameter)
            hasher.combine(match?.column)
        }
    }

    /// The query's name in keys (`catalog-page`).
    public var name: String
    /// The SQL, with `$name` placeholders for the parameters.
    public var sql: String
    /// The parameter names.
    public var parameters: [String]
    /// Entry TTL in seconds (default: the configuration's `entry_ttl_s`).
    public var ttl: Double?
    /// The tables it depends on.
    public var dependsOn: [Dependency]
    /// How many of the most-read entries to recompute after a fence moves (0: none).
    public var rewarm: Int
    /// YAML `warm: { sql, hot }`: SQL whose rows are parameter sets to precompute in `resync`
    /// (columns named like the parameters), nil for none.
    public var warmSQL: String?
    /// How many of the readers' most-read parameter sets `resync` also precomputes (default 100).
    public var warmHot: Int

    /// Makes a query.
    public init(
        name: String, sql: String, parameters: [String], ttl: Double? = nil, dependsOn: [Dependency], rewarm: Int = 0,
        warmSQL: String? = nil, warmHot: Int = 100
    ) {
        self.name = name
        self.sql = sql
        self.parameters = parameters
        self.ttl = ttl
        self.dependsOn = dependsOn
        self.rewarm = rewarm
        self.warmSQL = warmSQL
        self.warmHot = warmHot
    }
}
