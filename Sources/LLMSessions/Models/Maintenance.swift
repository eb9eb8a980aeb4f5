import Foundation

/// The outcome of `cleanupStale`: how many idle sessions were removed, and the idle limit used.
public struct CleanupResult: Sendable, Codable, Hashable {
    /// Number of sessions removed (with their turns).
    public var removed: Int
    /// The idle time beyond which sessions were removed.
    public var maxIdle: Duration?

    /// Creates a cleanup result.
    public init(removed: Int, maxIdle: Duration?) {
        self.removed = removed
        self.maxIdle = maxIdle
    }

    enum CodingKeys: String, CodingKey {
        case removed
        case maxIdle = "max_idle"
    }
}

/// The pg_cron job that runs `llm.cleanup_stale` periodically.
public struct CleanupSchedule: Sendable, Codable, Hashable {
    /// pg_cron's job id.
    public var jobID: Int64
    /// The job's name, `llm-sessions-cleanup`.
    public var jobName: String
    /// The cron expression, e.g. `*/15 * * * *`.
    public var schedule: String
    /// The SQL the job runs.
    public var command: String

    /// Creates a schedule description.
    public init(jobID: Int64, jobName: String, schedule: String, command: String) {
        self.jobID = jobID
        self.jobName = jobName
        self.schedule = schedule
        self.command = command
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case jobName = "job_name"
        case schedule, command
    }
}

/// Totals for one agent role, as returned by `stats()`.
public struct RoleStats: Sendable, Codable, Hashable {
    /// The agent role.
    public var agentRole: String
    /// Number of sessions of this role.
    public var sessions: Int
    /// Number of turns across those sessions.
    public var turns: Int64
    /// Sum of tokens across those sessions.
    public var tokens: Int64

    /// Creates role totals.
    public init(agentRole: String, sessions: Int, turns: Int64, tokens: Int64) {
        self.agentRole = agentRole
        self.sessions = sessions
        self.turns = turns
        self.tokens = tokens
    }

    enum CodingKeys: String, CodingKey {
        case agentRole = "agent_role"
        case sessions, turns, tokens
    }
}

/// What `migrate(sqlRoot:)` did, file by file.
public struct MigrationReport: Sendable, Codable, Hashable {
    /// One applied or skipped file.
    public struct Step: Sendable, Codable, Hashable {
        /// The file name without `.sql`, e.g. `0001_create_schema`.
        public var name: String
        /// `applied` (new), `updated` (an API file whose text changed) or `unchanged`.
        public var status: String
        /// SHA-256 of the file text, hex.
        public var checksum: String
        /// The migration's number (for `Migrations/` files; `nil` for API files).
        public var version: Int?

        /// Creates a step.
        public init(name: String, status: String, checksum: String, version: Int? = nil) {
            self.name = name
            self.status = status
            self.checksum = checksum
            self.version = version
        }
    }

    /// The `Migrations/*.sql` files in order.
    public var migrations: [Step]
    /// The `sql/api/*.sql` files in order.
    public var api: [Step]

    /// Creates a report.
    public init(migrations: [Step], api: [Step]) {
        self.migrations = migrations
        self.api = api
    }

    /// The steps, migrations first, that changed the database (`applied` or `updated`, not `unchanged`).
    public var applied: [Step] {
        (migrations + api).filter { $0.status != "unchanged" }
    }
}
