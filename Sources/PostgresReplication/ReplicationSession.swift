import Dispatch
import Logging
import NIOCore
import PGOutput

/// The loop that runs on a ``LogicalReplicationStream``'s thread: connect, check the slot,
/// `START_REPLICATION`, read and decode, answer keepalives, report feedback, reconnect.
struct ReplicationSession: Sendable {
    let target: ConnectionString
    let options: ReplicationOptions
    let logger: Logger
    let queue: EventQueue
    let stream: LogicalReplicationStream

    /// How one connection's streaming ended.
    enum Outcome {
        case stopped
        case endReached
        case serverEnded
    }

    /// Events handed to the consumer in one batch at most.
    static let batchSize = 256

    func run() {
        defer { stream.sessionEnded() }
        var tracker = FeedbackTracker()
        var attempt = 0
        var streamedBefore = false
        var standingBy = false
        var generator = SystemRandomNumberGenerator()
        // A publication missing in the slot's historic snapshot can pass (one created after the
        // slot, once the slot moves past its creation) or never will (one dropped and created
        // again): it is fatal once it repeats with no progress of the confirmed position.
        var missingPublication = (failures: 0, at: LSN.zero)
        while !stream.stopRequested {
            do {
                let outcome = try session(tracker: &tracker, isRestart: streamedBefore) {
                    streamedBefore = true
                    standingBy = false
                    attempt = 0
                }
                logger.info("replication stream ended", metadata: ["slot": "\(options.slot)", "reason": "\(outcome)", "flushed": "\(stream.reportedFlush)"])
                queue.finish()
                return
            } catch let error as ReplicationError
                where error.code == .publicationMismatch && error.postgres != nil
                    && Self.stillPassing(&missingPublication, confirmed: max(tracker.confirmed, stream.confirmed))
            {
                let delay = options.backoff.delay(attempt: attempt, using: &generator)
                attempt += 1
                logger.warning("publication missing at the slot's position: retrying", metadata: [
                    "slot": "\(options.slot)", "error": "\(error.message)", "failures": "\(missingPublication.failures)", "retry_in_s": "\(rounded(delay))",
                ])
                sleep(seconds: delay)
            } catch let error as ReplicationError where isRetryable(error, streamedBefore: streamedBefore) {
                if error.code == .slotInUse {
                    // A held slot is not a failure: poll it at a steady interval (no growing
                    // backoff), so this standby takes over soon after the holder dies or stops.
                    // Logged once per stand-by, not on every poll.
                    if !standingBy {
                        logger.notice("slot is held by another consumer: standing by", metadata: ["slot": "\(options.slot)", "detail": "\(error.message)", "poll_s": "\(rounded(options.standbyPollInterval))"])
                    }
                    standingBy = true
                    attempt = 0
                    sleep(seconds: options.standbyPollInterval)
                    continue
                }
                standingBy = false
                let delay = options.backoff.delay(attempt: attempt, using: &generator)
                attempt += 1
                logger.warning("replication connection lost: reconnecting", metadata: ["slot": "\(options.slot)", "error": "\(error.message)", "resume_from": "\(tracker.flush)", "retry_in_s": "\(rounded(delay))"])
                sleep(seconds: delay)
            } catch {
                logger.error("replication stream failed", metadata: ["slot": "\(options.slot)", "error": "\(error)"])
                queue.finish(throwing: error)
                return
            }
        }
        queue.finish()
    }

    /// Counts a missing-publication failure at `confirmed`; true while it may still pass (fewer
    /// than 5 in a row without the confirmed position moving).
    static func stillPassing(_ state: inout (failures: Int, at: LSN), confirmed: LSN) -> Bool {
        if confirmed > state.at || state.failures == 0 {
            state = (1, confirmed)
        } else {
            state.failures += 1
        }
        return state.failures < 5
    }

    private func isRetryable(_ error: ReplicationError, streamedBefore: Bool) -> Bool {
        switch error.code {
        case .slotInUse: true
        case .connection: streamedBefore
        default: false
        }
    }

    /// One connection: returns how streaming ended, throws what ended it otherwise.
    private func session(tracker: inout FeedbackTracker, isRestart: Bool, started: () -> Void) throws -> Outcome {
        let slot = options.slot
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection(
                target, replication: true, connectTimeout: options.connectTimeout, applicationName: "cache-warmer",
                settings: options.sessionSettings)
        } catch {
            throw ReplicationError(code: .connection, message: "\(error.message) (slot \(slot))", postgres: error)
        }
        let state: SlotState
        do {
            guard let found = try connection.slotState(slot) else {
                throw ReplicationError(code: .slotMissing, message: "\(target): replication slot \(slot) does not exist (create it with `cache-warmer setup`)")
            }
            state = found
        } catch let error as PostgresError {
            throw ReplicationError(code: .connection, message: "\(error.message) (slot \(slot))", postgres: error)
        }
        if state.isLost {
            throw ReplicationError.slotLost(target: target, slot: slot, restartLSN: state.restartLSN)
        }
        if state.isUnreserved {
            logger.warning("slot is about to lose WAL it needs (wal_status = unreserved)", metadata: ["slot": "\(slot)", "restart_lsn": "\(state.restartLSN.map { "\($0)" } ?? "none")"])
        }
        if let pid = state.activePID {
            throw ReplicationError(code: .slotInUse, message: "\(target): replication slot \(slot) is active for PID \(pid)")
        }
        let slotPosition = state.confirmedFlushLSN ?? .zero
        var start = max(tracker.confirmed, stream.confirmed)
        if let requested = options.startLSN {
            if !isRestart && requested < slotPosition {
                throw ReplicationError(
                    code: .startBeforeSlotPosition,
                    message: "\(target): cannot replay slot \(slot) from \(requested): its confirmed position is \(slotPosition), the earliest LSN it can replay from (Postgres would silently skip ahead)",
                    earliestAvailable: slotPosition)
            }
            start = max(start, requested)
        }
        do {
            try connection.startCopyBoth(options.startCommand(from: start))
        } catch {
            switch error.sqlState {
            case "55006": throw ReplicationError(code: .slotInUse, message: "\(error.message)", postgres: error)
            case "42704": throw ReplicationError(code: .slotMissing, message: "\(error.message)", postgres: error)
            default: throw ReplicationError(code: .connection, message: "\(error.message) (slot \(slot), start \(start))", postgres: error)
            }
        }
        started()
        logger.info("streaming", metadata: ["slot": "\(slot)", "server": "\(target)", "start": "\(start)", "slot_confirmed": "\(slotPosition)"])
        tracker.reconnected()
        var loop = StreamLoop(session: self, connection: connection, tracker: tracker)
        defer { tracker = loop.tracker }
        if isRestart {
            guard loop.push([.restarted(resumeFrom: start)]) else { return .stopped }
        }
        do {
            return try loop.run()
        } catch let error as PostgresError
            where error.sqlState == "42704" || (error.message.contains("publication \"") && error.message.contains("does not exist"))
        {
            // pgoutput reads the publication in the slot's historic snapshot: one dropped and
            // created again does not exist at the WAL position the slot stands at, and every
            // reconnect would fail the same way.
            throw ReplicationError(
                code: .publicationMismatch,
                message: "\(error.message) (slot \(slot), last confirmed \(loop.tracker.confirmed)): the slot stands at WAL written before the publication existed as it is now (dropped and created again?); recover with `cache-warmer setup --recreate-slot` (a new cache epoch and a warm-up follow)",
                postgres: error)
        } catch let error as PostgresError {
            throw ReplicationError(code: .connection, message: "\(error.message) (slot \(slot), last confirmed \(loop.tracker.confirmed))", postgres: error)
        } catch let error as PGOutputError {
            throw ReplicationError(code: .protocolViolation, message: "\(target): slot \(slot) after \(loop.tracker.received): \(error)")
        }
    }

    func sleep(seconds: Double) {
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        while !stream.stopRequested, DispatchTime.now().uptimeNanoseconds < deadline {
            queue.waitForSpace(timeout: min(0.1, Double(deadline - min(deadline, DispatchTime.now().uptimeNanoseconds)) / 1e9))
        }
    }

    private func rounded(_ seconds: Double) -> String {
        String(Double(Int(seconds * 100)) / 100)
    }
}

/// The read/decode/feedback loop of one streaming connection.
struct StreamLoop {
    let session: ReplicationSession
    let connection: PostgresConnection
    var tracker: FeedbackTracker
    var batch: [ReplicationEvent] = []
    /// WAL message bytes of the events in ``batch``.
    var batchBytes = 0
    /// When the batch's first event arrived (monotonic nanoseconds).
    var batchStarted: UInt64 = 0
    var nextStatus: UInt64 = 0
    /// When the last status update went out (monotonic nanoseconds).
    var lastStatusSent: UInt64 = 0
    /// When the last `.idle` event was handed over (monotonic nanoseconds).
    var lastIdle: UInt64 = 0

    /// A batch is handed over once its messages reach this many bytes, so that large rows
    /// do not pile up in it before the queue's byte bound applies.
    static let maxBatchBytes = 1 << 20

    /// The longest an event waits in a batch for more to arrive, in seconds.
    static let maxBatchDelay = 0.001

    init(session: ReplicationSession, connection: PostgresConnection, tracker: FeedbackTracker) {
        self.session = session
        self.connection = connection
        self.tracker = tracker
        batch.reserveCapacity(ReplicationSession.batchSize)
    }

    private var options: ReplicationOptions { session.options }
    private var stream: LogicalReplicationStream { session.stream }
    private static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    mutating func run() throws -> ReplicationSession.Outcome {
        var decoder = try PGOutputDecoder(protocolVersion: options.protocolVersion)
        let interval = UInt64(options.statusInterval * 1e9)
        nextStatus = Self.now + interval
        while true {
            if stream.stopRequested {
                return try finish(.stopped)
            }
            try sendStatusIfDue()
            switch try connection.readCopyData() {
            case .data(let buffer):
                switch try ReplicationMessage.decode(from: buffer) {
                case .keepalive(let keepalive):
                    tracker.confirm(stream.confirmed)
                    stream.control.withLock { $0.serverWALEnd = max($0.serverWALEnd, keepalive.walEnd) }
                    if keepalive.replyRequested {
                        try sendStatus(replyRequested: false)
                    }
                    if let idle = tracker.keepalive(walEnd: keepalive.walEnd) {
                        lastIdle = Self.now
                        batch.append(.idle(walEnd: idle))
                        guard flushBatch() else { return try finish(.stopped) }
                    }
                    if let end = options.endLSN, !tracker.inTransaction, keepalive.walEnd >= end {
                        return try finish(.endReached)
                    }
                case .xLogData(let data):
                    let message = try decoder.decode(data.payload)
                    if let end = options.endLSN, case .begin(let begin) = message, begin.finalLSN >= end {
                        return try finish(.endReached)
                    }
                    tracker.delivered(message, walEnd: data.walEnd)
                    if batch.isEmpty { batchStarted = Self.now }
                    batch.append(.message(message, walStart: data.walStart, walEnd: data.walEnd))
                    batchBytes += data.payload.readableBytes
                    if batch.count >= ReplicationSession.batchSize || batchBytes >= Self.maxBatchBytes {
                        guard flushBatch() else { return try finish(.stopped) }
                    }
                    if let end = options.endLSN, case .commit(let commit) = message, commit.endLSN >= end {
                        return try finish(.endReached)
                    }
                }
            case .wouldBlock:
                // While the server is busy more data follows within a millisecond: keep filling
                // the batch rather than waking the consumer for a few messages, but hand it over
                // once its first event has waited a millisecond, so latency stays bounded.
                if !batch.isEmpty {
                    let waited = Double(Self.now - batchStarted) / 1e9
                    if waited < Self.maxBatchDelay && connection.waitReadable(timeout: Self.maxBatchDelay - waited) { continue }
                }
                guard flushBatch() else { return try finish(.stopped) }
                tracker.confirm(stream.confirmed)
                if tracker.isIdle, tracker.confirmed > .zero, Self.now - lastIdle >= UInt64(options.idleHeartbeatInterval * 1e9) {
                    // Quiet: hand over the confirmed position again (a heartbeat; see idleHeartbeatInterval).
                    lastIdle = Self.now
                    guard push([.idle(walEnd: tracker.confirmed)]) else { return try finish(.stopped) }
                }
                let remaining = Double(nextStatus - min(nextStatus, Self.now)) / 1e9
                _ = connection.waitReadable(timeout: min(remaining, 0.25))
            case .finished:
                _ = flushBatch()
                return .serverEnded
            }
        }
    }

    /// Hands the batch to the consumer, blocking (while keeping the connection alive) when it is
    /// behind; false when a stop was requested meanwhile.
    private mutating func flushBatch() -> Bool {
        guard !batch.isEmpty else { return true }
        defer {
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        return push(batch, bytes: batchBytes)
    }

    /// Pushes events, waiting for space; false when a stop was requested meanwhile. While it
    /// waits the socket is not read, so keepalive requests go unseen: a status update every
    /// ``ReplicationOptions/blockedStatusInterval`` keeps the walsender from timing out.
    mutating func push(_ events: [ReplicationEvent], bytes: Int = 0) -> Bool {
        while !session.queue.tryPush(events, bytes: bytes) {
            if stream.stopRequested { return false }
            if Self.now >= nextStatus || Self.now - lastStatusSent >= UInt64(options.blockedStatusInterval * 1e9) {
                try? sendStatus(replyRequested: false)
            }
            session.queue.waitForSpace(timeout: min(0.25, options.blockedStatusInterval))
        }
        return true
    }

    private mutating func sendStatusIfDue() throws {
        guard Self.now >= nextStatus else { return }
        tracker.confirm(stream.confirmed)
        // While idle, ask for a keepalive: its WAL end lets the slot advance past unrelated WAL.
        try sendStatus(replyRequested: tracker.isIdle && options.acknowledge)
    }

    private mutating func sendStatus(replyRequested: Bool) throws {
        tracker.confirm(stream.confirmed)
        let flush = options.acknowledge ? tracker.flush : .zero
        let update = StandbyStatusUpdate(
            write: tracker.received, flush: flush, apply: flush, clientClock: .now(), replyRequested: replyRequested)
        var sent = try connection.sendCopyData(update.encoded)
        while !sent {
            _ = connection.waitWritable(timeout: 1)
            sent = try connection.flush()
        }
        let received = tracker.received
        stream.control.withLock {
            $0.reportedFlush = max($0.reportedFlush, flush)
            $0.serverWALEnd = max($0.serverWALEnd, received)
        }
        lastStatusSent = Self.now
        nextStatus = lastStatusSent + UInt64(options.statusInterval * 1e9)
    }

    /// Ends the session: at the end of a replay, first waits until the consumer confirmed what it
    /// got (or asks to stop); then reports the final position and ends COPY.
    private mutating func finish(_ outcome: ReplicationSession.Outcome) throws -> ReplicationSession.Outcome {
        if outcome == .endReached {
            guard flushBatch() else { return try finish(.stopped) }
            session.queue.finish()
            while options.acknowledge && !stream.stopRequested {
                tracker.confirm(stream.confirmed)
                if tracker.isIdle { break }
                try sendStatusIfDue()
                session.queue.waitForSpace(timeout: 0.05)
            }
        }
        try sendStatus(replyRequested: false)
        try connection.endCopy()
        return outcome
    }
}
