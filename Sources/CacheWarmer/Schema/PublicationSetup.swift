import PostgresReplication

/// Makes the publication deliver what the configuration needs, or says exactly what is missing.
/// `setup` creates a missing publication and fixes one the connected role owns; the worker's
/// start and its periodic check only verify. A table problem (no usable replica identity, a key
/// the identity does not cover, a table that does not exist) is never fixed here: it refuses,
/// naming the statement to run, and leaves the publication as it was.
enum PublicationSetup {
    /// Verifies (`create` false) or sets up (`create` true) the publication for `requirements`;
    /// throws ``WorkerError/Code-swift.enum/notSetUp`` listing every problem with its fix.
    /// Returns the tables as the catalog describes them.
    @discardableResult
    static func ensure(_ connection: PostgresConnection, _ requirements: TableRequirements, create: Bool) throws -> [TableName: TableRequirements.TableState] {
        var (publication, tables) = try TableCatalog.read(connection, requirements)
        if !publication.exists && !create {
            let list = requirements.wanted.map(\.table.sql).joined(separator: ", ")
            throw WorkerError(
                code: .notSetUp,
                message: "\(connection.target): publication \(requirements.publication) does not exist: run `cache-warmer setup` (or CREATE PUBLICATION \(PostgresConnection.identifier(requirements.publication)) FOR TABLE \(list) WITH (publish_via_partition_root = true))")
        }
        var problems = requirements.problems(publication: publication, tables: tables)
        let tableProblems = problems.filter { !$0.fixesPublication }
        if !tableProblems.isEmpty || !create {
            try refuse(connection, requirements, problems)
            return tables
        }
        let pub = PostgresConnection.identifier(requirements.publication)
        if !publication.exists {
            let list = requirements.wanted.map(\.table.sql).joined(separator: ", ")
            try connection.execute(
                "CREATE PUBLICATION \(pub) FOR TABLE \(list) WITH (publish = 'insert, update, delete, truncate', publish_via_partition_root = true)")
        } else if !problems.isEmpty {
            guard publication.owned else {
                throw WorkerError(
                    code: .notSetUp,
                    message: "\(connection.target): publication \(requirements.publication) is not owned by this role, so setup leaves it alone: "
                        + problems.map(\.description).joined(separator: "; "))
            }
            var statements: [String] = []
            for problem in problems where !statements.contains(problem.fix) {
                statements.append(problem.fix)
            }
            try connection.execute("BEGIN; " + statements.joined(separator: "; ") + "; COMMIT")
        }
        (publication, tables) = try TableCatalog.read(connection, requirements)
        problems = requirements.problems(publication: publication, tables: tables)
        try refuse(connection, requirements, problems)
        return tables
    }

    private static func refuse(_ connection: PostgresConnection, _ requirements: TableRequirements, _ problems: [TableRequirements.Problem]) throws {
        guard !problems.isEmpty else { return }
        throw WorkerError(
            code: .notSetUp,
            message: "\(connection.target): publication \(requirements.publication) cannot deliver what the configuration needs: "
                + problems.map(\.description).joined(separator: "; "))
    }
}
