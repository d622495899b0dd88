import Foundation
import PGOutput
import PostgresReplication

/// `pg_recvlogical --plugin=pgoutput` reading a workload's slot copy to its end: the raw rate one
/// slot gives a consumer, the baseline the stream and the worker are compared with.
struct PgRecvlogical {
    var binary = "/usr/lib/postgresql/15/bin/pg_recvlogical"
    /// Where the stream is written (`/dev/null`, or a real file as a consumer would).
    var file = "/dev/null"

    /// Changes per second for reading `slot` up to the workload's end.
    func rate(_ workload: ReplicationWorkload, slot: String) throws -> Double {
        try rate(writer: workload.writer, slot: slot, end: workload.end, publication: ReplicationWorkload.publication, changes: workload.changes)
    }

    /// Changes per second for reading `slot` (publication `publication`) up to `end`, `changes`
    /// row changes in all.
    func rate(writer: ConnectionString, slot: String, end: LSN, publication: String, changes: Int) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--dbname=\(writer.rawValue)", "--slot=\(slot)", "--start", "--endpos=\(end)",
            "--plugin=pgoutput", "-o", "proto_version=1", "-o", "publication_names=\(publication)",
            "--no-loop", "--file=\(file)",
        ]
        let start = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = (ContinuousClock.now - start).seconds
        guard process.terminationStatus == 0 else {
            throw BenchmarkError("pg_recvlogical exited with \(process.terminationStatus)")
        }
        print("  pg_recvlogical \(slot): \(changes) changes in \(String(format: "%.2f", elapsed)) s")
        return Double(changes) / elapsed
    }
}

/// A benchmark could not measure what it set out to.
struct BenchmarkError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
