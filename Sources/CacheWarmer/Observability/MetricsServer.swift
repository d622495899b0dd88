import Foundation
import Prometheus
import Logging
import ServiceLifecycle
import Synchronization

/// A small HTTP endpoint on `port` for `/metrics` (the Prometheus registry's text),
/// `/healthz` (the process answers) and `/readyz` (the worker is streaming). It runs on a thread
/// of its own with blocking sockets: a few scrapes a minute need nothing more.
public struct MetricsServer: Service {
    let port: Int
    let metrics: WorkerMetrics
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let bindAddress: String

    /// Serves `registry` (which swift-metrics was bootstrapped with) and `metrics`' readiness on
    /// `port`, bound to `bindAddress` (default all interfaces, for scrapers).
    public init(port: Int, metrics: WorkerMetrics, registry: PrometheusCollectorRegistry, logger: Logger, bindAddress: String = "0.0.0.0") {
        self.port = port
        self.metrics = metrics
        self.registry = registry
        self.logger = logger
        self.bindAddress = bindAddress
    }

    public func run() async throws {
        let listener = try Listener(address: bindAddress, port: port)
        logger.info("metrics endpoint listening", metadata: ["address": "\(bindAddress):\(port)", "paths": "/metrics /healthz /readyz"])
        let metrics = metrics
        let registry = registry
        let thread = Thread { listener.serve { path in Self.respond(path, metrics: metrics, registry: registry) } }
        thread.name = "metrics-http"
        thread.start()
        try? await gracefulShutdown()
        listener.close()
    }

    static func respond(_ path: String, metrics: WorkerMetrics, registry: PrometheusCollectorRegistry) -> (Int, String) {
        switch path {
        case "/metrics": (200, registry.emitToString())
        case "/healthz": (200, "ok\n")
        case "/readyz": readiness(metrics)
        default: (404, "not found\n")
        }
    }

    /// 200 while the worker streams with nothing wrong; else 503 with the reasons, one a line.
    static func readiness(_ metrics: WorkerMetrics) -> (Int, String) {
        guard metrics.isStreaming else { return (503, "not streaming\n") }
        let reasons = metrics.notReadyReasons
        return reasons.isEmpty ? (200, "ready\n") : (503, reasons.joined(separator: "\n") + "\n")
    }

    /// A listening socket; `serve` answers one request per connection until `close`.
    final class Listener: Sendable {
        private let descriptor: Int32
        private let closed = Atomic<Bool>(false)

        init(address: String, port: Int) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var yes: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, address, &socketAddress.sin_addr)
            let bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(descriptor, 16) == 0 else {
                let reason = String(cString: strerror(errno))
                Glibc.close(descriptor)
                throw WorkerError(code: .invalidConfiguration, message: "metrics endpoint: cannot listen on \(address):\(port): \(reason) (set metrics_port, 0 disables it)")
            }
        }

        func serve(_ handler: (String) -> (Int, String)) {
            while !closed.load(ordering: .acquiring) {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 200) > 0 else { continue }
                let client = accept(descriptor, nil, nil)
                guard client >= 0 else { continue }
                var timeout = timeval(tv_sec: 2, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 2048)
                let count = read(client, &buffer, buffer.count)
                let request = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : ""
                let parts = request.split(separator: " ", maxSplits: 2)
                let path = parts.count >= 2 && parts[0] == "GET" ? String(parts[1].split(separator: "?").first ?? "") : ""
                let (status, body) = handler(path)
                let reason = [200: "OK", 404: "Not Found", 503: "Service Unavailable"][status] ?? "Error"
                let response = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                _ = Array(response.utf8).withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
                Glibc.close(client)
            }
            Glibc.close(descriptor)
        }

        /// Stops serving; the serving thread closes the socket within 200 ms.
        func close() {
            closed.store(true, ordering: .releasing)
        }
    }
}
