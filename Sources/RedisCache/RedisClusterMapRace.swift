import Synchronization

/// The answers of several nodes asked for the slot map at once. The first complete map (every
/// slot served) resumes the waiting caller at once, so a node that never answers (a host gone
/// from the network: each connection attempt waits the whole connect timeout) does not hold up
/// a refresh; otherwise the last answer resumes it with the most complete map, or the failures.
final class RedisClusterMapRace: Sendable {
    /// What the nodes answered.
    enum Outcome: Sendable {
        /// A map with every slot served.
        case complete(RedisClusterTopology)
        /// No complete map: the one with the fewest uncovered slots (if any), the reasons, and
        /// the code of the most telling failure.
        case partial(RedisClusterTopology?, problems: [String], code: RedisError.Code)
    }

    private struct State {
        var remaining: Int
        var continuation: CheckedContinuation<Outcome, Never>?
        var best: RedisClusterTopology?
        var problems: [String] = []
        var code: RedisError.Code?
    }

    private let state: Mutex<State>

    /// A race of `count` answers that resumes `continuation` once.
    init(count: Int, continuation: CheckedContinuation<Outcome, Never>) {
        state = Mutex(State(remaining: count, continuation: continuation))
        if count == 0 {
            finish(.partial(nil, problems: ["no node to ask"], code: .connectionFailed))
        }
    }

    /// Records `node`'s answer; resumes the caller on the first complete map or the last answer.
    func report(_ node: RedisClusterTopology.Address, _ result: Result<RedisClusterTopology, RedisError>) {
        let outcome: Outcome? = state.withLock { state in
            guard state.continuation != nil else { return nil }
            state.remaining -= 1
            switch result {
            case .success(let topology) where topology.uncoveredSlots == 0:
                return .complete(topology)
            case .success(let topology):
                state.problems.append("\(node): \(topology.uncoveredSlots) slots without a master")
                if !topology.shards.isEmpty, topology.uncoveredSlots < state.best?.uncoveredSlots ?? Int.max { state.best = topology }
            case .failure(let error):
                state.problems.append(error.message)
                // A reason that is not the network (credentials, certificate, not a cluster) tells more.
                if state.code == nil || (state.code.map(Self.isNetwork) ?? true && !Self.isNetwork(error.code)) { state.code = error.code }
            }
            guard state.remaining == 0 else { return nil }
            return .partial(state.best, problems: state.problems, code: state.code ?? .connectionFailed)
        }
        if let outcome { finish(outcome) }
    }

    private func finish(_ outcome: Outcome) {
        let continuation = state.withLock { state in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
    }

    private static func isNetwork(_ code: RedisError.Code) -> Bool {
        code == .connectionFailed || code == .connectionLost || code == .timeout
    }
}
