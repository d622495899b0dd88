import NIOCore
import PGOutput
import PostgresReplication
import Testing

@Suite struct FeedbackTrackerTests {
    private let ts = PostgresTimestamp(rawValue: 0)

    private func begin(_ final: UInt64) -> PGOutputMessage {
        .begin(BeginMessage(finalLSN: LSN(final), commitTimestamp: ts, xid: 1))
    }

    private func commit(_ end: UInt64) -> PGOutputMessage {
        .commit(CommitMessage(commitLSN: LSN(end - 8), endLSN: LSN(end), commitTimestamp: ts))
    }

    @Test func flushIsOnlyWhatWasConfirmed() {
        var tracker = FeedbackTracker()
        tracker.delivered(begin(100), walEnd: LSN(200))
        tracker.delivered(commit(108), walEnd: LSN(200))
        #expect(tracker.flush == .zero)
        #expect(tracker.received == LSN(200))
        tracker.confirm(LSN(108))
        #expect(tracker.flush == LSN(108))
        tracker.confirm(LSN(50))
        #expect(tracker.flush == LSN(108), "confirmations never move back")
    }

    @Test func keepaliveOffersItsPositionOnlyWhenIdle() {
        var tracker = FeedbackTracker()
        tracker.delivered(begin(100), walEnd: LSN(120))
        let open = tracker.keepalive(walEnd: LSN(500))
        #expect(open == nil, "a transaction is open")
        tracker.delivered(commit(108), walEnd: LSN(500))
        let unconfirmed = tracker.keepalive(walEnd: LSN(600))
        #expect(unconfirmed == nil, "the commit is not confirmed yet")
        tracker.confirm(LSN(108))
        let offered = tracker.keepalive(walEnd: LSN(700))
        #expect(offered == LSN(700))
        #expect(tracker.flush == LSN(108), "an offered position counts only once confirmed")
        let again = tracker.keepalive(walEnd: LSN(700))
        #expect(again == nil, "a position is offered once")
        let older = tracker.keepalive(walEnd: LSN(650))
        #expect(older == nil)
        tracker.confirm(LSN(700))
        #expect(tracker.flush == LSN(700))
    }

    @Test func reconnectDropsTheOpenTransaction() {
        var tracker = FeedbackTracker(confirmed: LSN(10))
        tracker.delivered(begin(100), walEnd: LSN(120))
        #expect(!tracker.isIdle)
        tracker.reconnected()
        #expect(tracker.isIdle)
        let offered = tracker.keepalive(walEnd: LSN(90))
        #expect(offered == LSN(90))
    }

    @Test func nonTransactionalMessageMustBeConfirmed() {
        var tracker = FeedbackTracker()
        let message = LogicalMessage(isTransactional: false, lsn: LSN(300), prefix: "p", content: ByteBuffer())
        tracker.delivered(.message(message), walEnd: LSN(300))
        #expect(!tracker.isIdle)
        tracker.confirm(LSN(300))
        #expect(tracker.isIdle)
    }

    @Test func streamedTransactionsCountUntilTheirCommit() {
        var tracker = FeedbackTracker()
        tracker.delivered(.streamStart(StreamStartMessage(xid: 5, isFirstSegment: true)), walEnd: LSN(10))
        #expect(!tracker.isIdle)
        tracker.delivered(.streamStop, walEnd: LSN(10))
        tracker.delivered(.streamCommit(StreamCommitMessage(xid: 5, commitLSN: LSN(40), endLSN: LSN(48), commitTimestamp: ts)), walEnd: LSN(48))
        #expect(!tracker.isIdle)
        tracker.confirm(LSN(48))
        #expect(tracker.isIdle)
    }
}

@Suite struct BackoffTests {
    @Test func ceilingGrowsToTheMaximum() {
        let backoff = Backoff(initial: 0.5, maximum: 4, multiplier: 2)
        #expect((0..<6).map { backoff.ceiling(attempt: $0) } == [0.5, 1, 2, 4, 4, 4])
        #expect(backoff.ceiling(attempt: 10_000) == 4)
    }

    @Test func delaysAreJitteredWithinTheCeiling() {
        let backoff = Backoff(initial: 1, maximum: 8)
        var generator = SystemRandomNumberGenerator()
        let delays = (0..<200).map { _ in backoff.delay(attempt: 3, using: &generator) }
        #expect(delays.allSatisfy { $0 >= 0.1 && $0 <= 8 })
        #expect(Set(delays).count > 100, "jitter spreads retries")
    }
}

@Suite struct ConnectionStringTests {
    @Test(arguments: [
        ("postgres://app:s3cret@db.example.com:5432/shop", "postgres://app:***@db.example.com:5432/shop"),
        ("postgresql://app:p%40ss@h/db?sslmode=require", "postgresql://app:***@h/db?sslmode=require"),
        ("postgres://app@h/db", "postgres://app@h/db"),
        ("host=h user=app password=s3cret dbname=x", "host=h user=app password=*** dbname=x"),
        ("host=h password='a b\\' c' dbname=x", "host=h password=*** dbname=x"),
        ("postgres://h/db?user=app&password=s3cret&sslmode=verify-full", "postgres://h/db?user=app&password=***&sslmode=verify-full"),
    ])
    func redactsPasswords(_ input: String, _ expected: String) {
        #expect(ConnectionString(input).description == expected)
        #expect(!ConnectionString(input).description.contains("s3cret"))
    }
}
