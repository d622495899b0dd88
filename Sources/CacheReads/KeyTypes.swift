import CacheContract
import Foundation
import Synchronization

/// The types of each entity's key columns (`pg_type.typname`), learned from the writer's catalog
/// when ``CacheReads`` starts, to look a caller's key up under the spelling the worker uses: an
/// upper-case uuid in lower case, an integer without leading zeros or sign. Until they are known
/// (or for other types) keys are looked up as given; fills are named from the row either way.
final class KeyTypes: Sendable {
    private let types = Mutex<[String: [String]]>([:])

    /// Records the key column types of `entity`, in key order.
    func record(_ entity: String, _ typeNames: [String]) {
        types.withLock { $0[entity] = typeNames }
    }

    /// Whether every entity's types are known.
    func knows(_ entities: some Collection<String>) -> Bool {
        types.withLock { known in entities.allSatisfy { known[$0] != nil } }
    }

    /// `key` with each part respelled as the worker prints its column's type, where that is
    /// certain; unchanged parts otherwise.
    func canonical(_ entity: String, _ key: [KeyPart]) -> [KeyPart] {
        guard let names = types.withLock({ $0[entity] }), names.count == key.count else { return key }
        return zip(key, names).map { part, type in Self.canonical(part, type: type) }
    }

    /// One part: `uuid` → lower case (when it parses as 8-4-4-4-12 hex), `int2`/`int4`/`int8` →
    /// decimal without sign or leading zeros (when it parses as one); otherwise unchanged.
    static func canonical(_ part: KeyPart, type: String) -> KeyPart {
        switch type {
        case "uuid":
            guard part.text.utf8.count == 36, let uuid = UUID(uuidString: part.text) else { return part }
            return KeyPart(uuid.uuidString.lowercased())
        case "int2", "int4", "int8":
            guard let value = Int64(part.text) else { return part }
            return KeyPart(value)
        default:
            return part
        }
    }
}
