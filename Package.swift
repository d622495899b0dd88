// swift-tools-version:6.1
import PackageDescription
import class Foundation.ProcessInfo

/// The libFuzzer target is only part of the package when `CW_FUZZ=1`: it needs
/// `-sanitize=fuzzer` to link (libFuzzer supplies `main`), which a plain `swift build` lacks.
let fuzzing = ProcessInfo.processInfo.environment["CW_FUZZ"] == "1"

let strictSwift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

var targets: [Target] = [
    // C libraries, one system library target each.
    .systemLibrary(
        name: "CLibPQ",
        pkgConfig: "libpq",
        providers: [.apt(["libpq-dev"])]
    ),
    .systemLibrary(
        name: "CHiredis",
        pkgConfig: "hiredis",
        providers: [.apt(["libhiredis-dev"])]
    ),
    // ppoll(2), which Swift's Glibc module does not declare: sub-millisecond socket waits.
    .systemLibrary(name: "CPoll"),
    .systemLibrary(
        name: "COpenSSL",
        pkgConfig: "openssl",
        providers: [.apt(["libssl-dev"])]
    ),

    // Pure protocol decoder: LSNs, replication (CopyData) messages, pgoutput messages. No I/O.
    .target(
        name: "PGOutput",
        dependencies: [.product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: strictSwift6
    ),
    // libpq connection, slot/publication setup, the replication stream with feedback.
    .target(
        name: "PostgresReplication",
        dependencies: [
            "CLibPQ", "PGOutput",
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: strictSwift6
    ),
    // Reads the captured pgoutput fixture files (tests, benchmark, fuzz seeds).
    .target(
        name: "PGOutputFixtures",
        dependencies: ["PGOutput", .product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: strictSwift6
    ),
    // Redis client: own socket I/O (TCP, TLS through OpenSSL), hiredis for RESP.
    .target(
        name: "RedisCache",
        dependencies: [
            "CHiredis", "COpenSSL", "CPoll",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: strictSwift6
    ),
    // Keys, versions and scripts shared by the worker and the readers.
    .target(
        name: "CacheContract",
        dependencies: ["PGOutput", "RedisCache"],
        swiftSettings: strictSwift6
    ),
    // The worker: configuration, change -> cache operations, apply loop.
    .target(
        name: "CacheWarmer",
        dependencies: [
            "PGOutput", "PostgresReplication", "RedisCache", "CacheContract",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ],
        swiftSettings: strictSwift6
    ),
    // The read-path library embedded in services.
    .target(
        name: "CacheReads",
        dependencies: [
            "RedisCache", "CacheContract", "CacheWarmer", "PGOutput",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: strictSwift6
    ),
    .executableTarget(
        name: "cache-warmer",
        dependencies: [
            "CacheWarmer", "CacheReads", "CacheContract", "PGOutput", "PostgresReplication", "RedisCache",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ],
        swiftSettings: strictSwift6
    ),
    // Benchmarks: prints a table and writes JSON (`cw-bench --help`).
    .executableTarget(
        name: "cw-bench",
        dependencies: [
            "PGOutput", "PGOutputFixtures", "PostgresReplication", "RedisCache", "CacheContract", "CacheWarmer", "CacheReads",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        path: "Benchmarks/cw-bench",
        swiftSettings: strictSwift6
    ),

    .testTarget(
        name: "PGOutputTests",
        dependencies: ["PGOutput", "PGOutputFixtures", .product(name: "NIOCore", package: "swift-nio")],
        exclude: ["Fixtures"],
        swiftSettings: strictSwift6
    ),
    // Shared by the integration tests: the local stack's settings and helpers.
    .target(
        name: "TestSupport",
        dependencies: ["PostgresReplication"],
        path: "Tests/TestSupport",
        swiftSettings: strictSwift6
    ),
    .testTarget(
        name: "CacheContractTests",
        dependencies: [
            "CacheContract", "PGOutput", "RedisCache", "PostgresReplication", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
        ],
        swiftSettings: strictSwift6
    ),
    .testTarget(
        name: "StackIntegrationTests",
        dependencies: ["PGOutput", "PostgresReplication", "RedisCache", "TestSupport"],
        swiftSettings: strictSwift6
    ),
    .testTarget(
        name: "CacheWarmerTests",
        dependencies: [
            "CacheWarmer", "CacheContract", "PGOutput", "PostgresReplication", "RedisCache", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: strictSwift6
    ),
    .testTarget(
        name: "CacheReadsTests",
        dependencies: [
            "CacheReads", "CacheContract", "CacheWarmer", "PGOutput", "RedisCache", "TestSupport",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: strictSwift6
    ),
    .testTarget(
        name: "PostgresReplicationTests",
        dependencies: ["PostgresReplication", "PGOutput", "TestSupport", .product(name: "Logging", package: "swift-log")],
        swiftSettings: strictSwift6
    ),
    // Against the stack's Redis and a TLS + ACL Redis the suite starts (deploy/local/redis-tls.sh).
    .testTarget(
        name: "RedisCacheTests",
        dependencies: ["RedisCache", "TestSupport", .product(name: "Logging", package: "swift-log")],
        swiftSettings: strictSwift6
    ),
]

if fuzzing {
    targets += [
        .systemLibrary(name: "CFuzzerDriver", path: "Fuzz/CFuzzerDriver"),
        .executableTarget(
            name: "PGOutputFuzz",
            dependencies: ["PGOutput", "CFuzzerDriver", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/PGOutputFuzz",
            swiftSettings: strictSwift6
        ),
    ]
}

let package = Package(
    name: "cache-warmer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cache-warmer", targets: ["cache-warmer"]),
        .library(name: "PGOutput", targets: ["PGOutput"]),
        .library(name: "CacheReads", targets: ["CacheReads"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Already in the graph through postgres-nio; RedisCache takes its SHA-1 and SHA-256.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: targets
)
