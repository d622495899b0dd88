import PostgresReplication

/// What the worker needs of each configured table and of the publication, checked by `setup`,
/// at start and periodically while running: the table exists; its replica identity is usable
/// (a primary key, an index, or FULL) and, for an entity, covers the entity's key, so updates
/// and deletes name the old key; the publication covers it with every column, no row filter,
/// all of insert, update, delete and truncate, and through the root for a partitioned table.
/// (PostgreSQL documentation: "Logical Replication", sections "Publication", "Row Filters",
/// "Column Lists", and `ALTER TABLE ... REPLICA IDENTITY`.)
public struct TableRequirements: Sendable {
    /// One unmet requirement, with the statement that meets it.
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        /// The table as the configuration names it (nil: the publication itself).
        public var table: String?
        /// What is wrong.
        public var message: String
        /// SQL that fixes it.
        public var fix: String
        /// True when `setup` may run ``fix`` itself (it changes only a publication the role owns).
        public var fixesPublication: Bool

        public var description: String {
            (table.map { "\($0): " } ?? "") + message + " (fix: \(fix))"
        }
    }

    /// What the catalog says about one configured table.
    public struct TableState: Hashable, Sendable {
        var oid: UInt32
        var schema: String
        var name: String
        /// `pg_class.relkind`: `r` table, `p` partitioned table.
        var kind: String
        /// `pg_class.relreplident`: `d` default, `n` nothing, `f` full, `i` index.
        var replicaIdentity: String
        /// Columns of the replica identity key (empty when there is none).
        var identityColumns: [String]
        /// Every column that is not generated, in order.
        var columns: [String]
        /// Generated columns, which pgoutput (PostgreSQL 15) never sends.
        var generatedColumns: [String]
        /// Unique indexes whose columns are all NOT NULL: candidates for `REPLICA IDENTITY USING INDEX`.
        var candidateIndexes: [(name: String, columns: [String])]
        /// True when the publication covers the table (its root, for a partition).
        var published: Bool
        /// The published columns (nil when not published).
        var publishedColumns: [String]?
        /// The row filter, when the publication has one for this table.
        var rowFilter: String?

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.oid == rhs.oid && lhs.schema == rhs.schema && lhs.name == rhs.name && lhs.kind == rhs.kind
                && lhs.replicaIdentity == rhs.replicaIdentity && lhs.identityColumns == rhs.identityColumns && lhs.columns == rhs.columns
                && lhs.generatedColumns == rhs.generatedColumns && lhs.published == rhs.published
                && lhs.publishedColumns == rhs.publishedColumns && lhs.rowFilter == rhs.rowFilter
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(oid)
        }
    }

    /// The publication's own settings.
    public struct PublicationState: Hashable, Sendable {
        var exists: Bool
        var insert = true, update = true, delete = true, truncate = true
        var viaRoot = false
        /// True when the connected role owns the publication (so `setup` may alter it).
        var owned = false
    }

    /// A configured table: how the configuration names it, and the key columns its entity uses
    /// (nil for a table only cached queries depend on).
    public struct Wanted: Hashable, Sendable {
        /// The table.
        public var table: TableName
        /// The entity's key columns, which the replica identity must cover.
        public var key: [String]?
    }

    /// The publication's name.
    public let publication: String
    /// The configured tables, in configuration order.
    public let wanted: [Wanted]

    /// The requirements of `configuration`.
    public init(_ configuration: WorkerConfiguration) {
        publication = configuration.publication
        var wanted: [Wanted] = []
        for table in configuration.tables {
            wanted.append(Wanted(table: table, key: configuration.entities.first { $0.table == table }?.key))
        }
        self.wanted = wanted
    }

    /// The problems found: per table in configuration order, then the publication's.
    public func problems(publication state: PublicationState, tables: [TableName: TableState]) -> [Problem] {
        var problems: [Problem] = []
        let pub = PostgresConnection.identifier(publication)
        for wanted in wanted {
            let name = wanted.table.spelling
            guard let table = tables[wanted.table] else {
                problems.append(Problem(table: name, message: "the table does not exist", fix: "create it, or remove it from the configuration", fixesPublication: false))
                continue
            }
            let sql = wanted.table.sql
            problems += identityProblems(wanted, table)
            guard state.exists else { continue }
            if table.kind == "p" && !state.viaRoot {
                problems.append(Problem(
                    table: name, message: "partitioned, and publication \(publication) does not publish via the partition root (changes would name the leaf partitions)",
                    fix: "ALTER PUBLICATION \(pub) SET (publish_via_partition_root = true)", fixesPublication: true))
            }
            if !table.published {
                problems.append(Problem(table: name, message: "not in publication \(publication)", fix: "ALTER PUBLICATION \(pub) ADD TABLE \(sql)", fixesPublication: true))
                continue
            }
            if let filter = table.rowFilter {
                problems.append(Problem(
                    table: name, message: "publication \(publication) has a row filter (WHERE \(filter)) for it: rows leaving the filter would never be deleted from the cache",
                    fix: "ALTER PUBLICATION \(pub) DROP TABLE \(sql); ALTER PUBLICATION \(pub) ADD TABLE \(sql)", fixesPublication: true))
            }
            if let published = table.publishedColumns, !Set(table.columns).isSubset(of: Set(published)) {
                let missing = table.columns.filter { !published.contains($0) }
                problems.append(Problem(
                    table: name, message: "publication \(publication) has a column list without \(missing.joined(separator: ", ")): rows would arrive incomplete",
                    fix: "ALTER PUBLICATION \(pub) DROP TABLE \(sql); ALTER PUBLICATION \(pub) ADD TABLE \(sql)", fixesPublication: true))
            }
        }
        guard state.exists else { return problems }
        let missing = [("insert", state.insert), ("update", state.update), ("delete", state.delete), ("truncate", state.truncate)].filter { !$0.1 }.map(\.0)
        if !missing.isEmpty {
            problems.append(Problem(
                table: nil, message: "publication \(publication) does not publish \(missing.joined(separator: ", ")): those changes would never reach the cache",
                fix: "ALTER PUBLICATION \(pub) SET (publish = 'insert, update, delete, truncate')", fixesPublication: true))
        }
        return problems
    }

    private func identityProblems(_ wanted: Wanted, _ table: TableState) -> [Problem] {
        let name = wanted.table.spelling
        let sql = wanted.table.sql
        var fixes = ["ALTER TABLE \(sql) REPLICA IDENTITY FULL"]
        let key = wanted.key ?? []
        if let index = table.candidateIndexes.first(where: { Set(key).isSubset(of: Set($0.columns)) }) {
            fixes.insert("ALTER TABLE \(sql) REPLICA IDENTITY USING INDEX \(PostgresConnection.identifier(index.name))", at: 0)
        }
        let fix = fixes.joined(separator: " or ")
        guard !table.identityColumns.isEmpty else {
            let why = switch table.replicaIdentity {
            case "n": "REPLICA IDENTITY NOTHING"
            case "i": "its replica identity index is gone"
            default: "no primary key, or a DEFERRABLE one, which Postgres does not use as the identity, and REPLICA IDENTITY DEFAULT"
            }
            return [Problem(
                table: name, message: "has no usable replica identity (\(why)): with a publication that publishes updates and deletes, the application's UPDATE and DELETE on it fail",
                fix: fix, fixesPublication: false)]
        }
        if let key = wanted.key, !Set(key).isSubset(of: Set(table.identityColumns)) {
            let uncovered = key.filter { !table.identityColumns.contains($0) }
            return [Problem(
                table: name, message: "the entity key (\(key.joined(separator: ", "))) is not covered by the replica identity (\(table.identityColumns.joined(separator: ", "))): a change of \(uncovered.joined(separator: ", ")) would not name the old key",
                fix: fix, fixesPublication: false)]
        }
        return []
    }
}
