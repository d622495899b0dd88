import Foundation
import PGOutput
import PostgresReplication
import Testing

@testable import CacheWarmer

/// The warnings `status` prints for the history window (pure: slot state, settings, rate).
@Suite struct HistoryStatusTests {
    static let now = Date(timeIntervalSince1970: 1_795_957_304)

    func slot(_ walStatus: String) -> SlotState {
        SlotState(name: "cw_history", plugin: "pgoutput", slotType: "logical", database: "db", confirmedFlushLSN: LSN(100), restartLSN: LSN(50), walStatus: walStatus, activePID: nil)
    }

    @Test func missingAndLostSlotsSayWhatToDo() {
        let window = HistoryWindow(keep: .duration(seconds: 3600))
        #expect(HistoryStatus.warnings(window: window, state: nil, retained: nil, earliest: nil, maximum: nil, now: Self.now)
            == ["history slot does not exist: run `cache-warmer setup` (replay from the past is unavailable)"])
        let lost = HistoryStatus.warnings(window: window, state: slot("lost"), retained: nil, earliest: nil, maximum: 1 << 30, now: Self.now)
        #expect(lost.count == 1 && lost[0].contains("wal_status = lost") && lost[0].contains("main slot is not affected"))
        #expect(HistoryStatus.warnings(window: window, state: slot("unreserved"), retained: nil, earliest: nil, maximum: nil, now: Self.now).first?.contains("unreserved") == true)
        #expect(HistoryStatus.warnings(window: window, state: slot("reserved"), retained: 1 << 20, earliest: Self.now.addingTimeInterval(-60), maximum: nil, now: Self.now).isEmpty,
            "unlimited max_slot_wal_keep_size: nothing to warn about")
    }

    @Test func aWindowLargerThanMaxSlotWALKeepSizeIsWarnedAbout() {
        let bytes = HistoryWindow(keep: .bytes(2 << 30))
        #expect(HistoryStatus.warnings(window: bytes, state: slot("reserved"), retained: 0, earliest: nil, maximum: 1 << 30, now: Self.now).first?.contains("exceeds max_slot_wal_keep_size") == true)
        #expect(HistoryStatus.warnings(window: bytes, state: slot("reserved"), retained: 0, earliest: nil, maximum: 4 << 30, now: Self.now).isEmpty)
        // 1 MB/s over the last 100 s: a 1 h window needs about 3.6 GB.
        let hour = HistoryWindow(keep: .duration(seconds: 3600))
        let warned = HistoryStatus.warnings(window: hour, state: slot("reserved"), retained: 100 << 20, earliest: Self.now.addingTimeInterval(-100), maximum: 1 << 30, now: Self.now)
        #expect(warned.count == 1 && warned[0].contains("a window of 1h needs about 3774873600 bytes"), "\(warned)")
        #expect(HistoryStatus.warnings(window: hour, state: slot("reserved"), retained: 100 << 20, earliest: Self.now.addingTimeInterval(-100), maximum: 8 << 30, now: Self.now).isEmpty)
    }
}
