import Foundation

/// The pg_cron jobs `scheduleCleanup` set up: `llm.cleanup_stale` and, beside it, the search indexer.
public struct CleanupSchedule: Sendable, Codable, Hashable {
    /// pg_cron's job id.
    public var jobID: Int64
    /// The job's name, `llm-sessions-cleanup`.
    public var jobName: String
    /// The cron expression, e.g. `*/15 * * * *`.
    public var schedule: String
    /// The SQL the job runs.
    public var command: String
    /// The job that runs `llm.index_turns()` every minute, `llm-sessions-index`.
    public var indexJob: Job?

    /// Another pg_cron job scheduled with the cleanup.
    public struct Job: Sendable, Codable, Hashable {
        /// pg_cron's job id.
        public var jobID: Int64
        /// The job's name, e.g. `llm-sessions-index`.
        public var jobName: String
        /// The cron expression, e.g. `* * * * *`.
        public var schedule: String
        /// The SQL the job runs.
        public var command: String

        /// Creates a job description.
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

    /// Creates a schedule description.
    public init(jobID: Int64, jobName: String, schedule: String, command: String, indexJob: Job? = nil) {
        self.jobID = jobID
        self.jobName = jobName
        self.schedule = schedule
        self.command = command
        self.indexJob = indexJob
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case jobName = "job_name"
        case schedule, command
        case indexJob = "index_job"
    }
}
