import PGOutput

/// How to stream a slot. Every property has a default that suits the worker.
public struct ReplicationOptions: Hashable, Sendable {
    /// The logical slot to read.
    public var slot: String
    /// The publications whose tables are streamed.
    public var publications: [String]
    /// `proto_version` (1...4); 1 works on every supported server.
    public var protocolVersion: Int = 1
    /// Stream large in-progress transactions (`streaming 'on'`, protocol 2+).
    public var streaming: Bool = false
    /// Include logical decoding messages (`messages 'true'`). A consumer that enables them must
    /// ``LogicalReplicationStream/confirm(_:)`` non-transactional messages' LSNs too, as it confirms
    /// commits and ``ReplicationEvent/idle(walEnd:)`` positions.
    public var messages: Bool = false
    /// Where to start; nil resumes at the slot's confirmed position. A start older than that
    /// position fails with ``ReplicationError/Code-swift.enum/startBeforeSlotPosition``.
    public var startLSN: LSN?
    /// Stop cleanly after the commit whose end LSN reaches this position (inclusive), or once
    /// the server's WAL end passes it with no transaction open.
    public var endLSN: LSN?
    /// Report confirmed positions to the server (false: replay without consuming the slot).
    public var acknowledge: Bool = true
    /// Seconds between standby status updates, independent of message flow (default 10).
    public var statusInterval: Double = 10
    /// Reconnect policy after a lost connection.
    public var backoff = Backoff()
    /// Seconds between checks of a slot another consumer holds (default 0.5): a standby polls at
    /// this steady interval, not a growing backoff, so it takes over soon after the holder dies.
    public var standbyPollInterval: Double = 0.5
    /// Events buffered ahead of the consumer before the socket is no longer read (back-pressure).
    public var queueCapacity: Int = 8192
    /// Bytes of WAL messages buffered ahead of the consumer before the socket is no longer read
    /// (default 64 MiB): with large rows the event count alone does not bound memory. One
    /// message larger than this is still delivered, alone.
    public var queueBytes: Int = 64 << 20
    /// Seconds between `.idle` events while nothing is in flight and no WAL arrives (default 1):
    /// they carry the confirmed position again, so a consumer gets a turn for its periodic work
    /// (checks, checkpoints) on a quiet database too.
    public var idleHeartbeatInterval: Double = 1
    /// Seconds between status updates while the consumer is behind and the socket is not read
    /// (default 1): the walsender counts any reply as a sign of life, so it never ends the
    /// connection for `wal_sender_timeout` however long Redis stalls.
    public var blockedStatusInterval: Double = 1
    /// libpq `connect_timeout` in seconds.
    public var connectTimeout: Int = 10
    /// Session settings for the walsender, which formats pgoutput's text values with them.
    public var sessionSettings: [String: String] = ReplicationOptions.canonicalSessionSettings

    /// The settings under which pgoutput's text values match the cache's canonical formats
    /// (docs/cache-protocol.md section 4; readers set the same values in every fill).
    public static let canonicalSessionSettings = [
        "TimeZone": "UTC", "DateStyle": "ISO", "IntervalStyle": "postgres", "extra_float_digits": "1", "bytea_output": "hex", "lc_monetary": "C",
    ]

    /// Options for `slot` and `publications`, defaults elsewhere.
    public init(slot: String, publications: [String]) {
        self.slot = slot
        self.publications = publications
    }

    /// The `START_REPLICATION` command for a start position.
    func startCommand(from start: LSN) -> String {
        var options = [
            "proto_version '\(protocolVersion)'",
            "publication_names '\(publications.map { "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" }.joined(separator: ",").replacingOccurrences(of: "'", with: "''"))'",
        ]
        if messages { options.append("messages 'true'") }
        if streaming { options.append("streaming 'on'") }
        let quotedSlot = "\"" + slot.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        return "START_REPLICATION SLOT \(quotedSlot) LOGICAL \(start) (\(options.joined(separator: ", ")))"
    }

    func validate() throws(ReplicationError) {
        guard (1...4).contains(protocolVersion) else {
            throw ReplicationError(code: .invalidConfiguration, message: "proto_version \(protocolVersion) is not in 1...4")
        }
        guard !streaming || protocolVersion >= 2 else {
            throw ReplicationError(code: .invalidConfiguration, message: "streaming needs proto_version 2 or later")
        }
        guard !publications.isEmpty, !slot.isEmpty else {
            throw ReplicationError(code: .invalidConfiguration, message: "a slot and at least one publication are needed")
        }
        guard statusInterval > 0, queueCapacity > 0, standbyPollInterval > 0 else {
            throw ReplicationError(code: .invalidConfiguration, message: "statusInterval, queueCapacity and standbyPollInterval must be positive")
        }
    }
}
