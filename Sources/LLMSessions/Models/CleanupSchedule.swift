import Foundation

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
