import ArgumentParser
import Dispatch
import Foundation
import LLMSessions

extension LLMSessionsCommand {
    /// `llm-sessions watch`: prints session events as they are committed, until interrupted.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print session events as they happen, one line each, until interrupted.",
            discussion: """
                Listens on the llm_sessions channel: create, append, pop, end, fork, import, \
                archive and restore, each delivered when its transaction commits. Each line \
                shows the time it arrived, the event, the session, the role and the seq; a \
                cleanup batch shows its count instead of a session. --json prints one JSON \
                object per line (time, event, session_id, agent_role, seq, count). Every line \
                is flushed as it is written. A dropped connection is re-established (events \
                sent meanwhile are missed). SIGINT or SIGTERM end it with exit 0.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Option(help: "Only events of this agent role.")
        var role: String?

        func validate() throws { try requireText(role, "--role") }

        func run() async throws {
            let json = connection.json
            try await connection.withStore { store in
                let events = store.events(agentRole: role)
                let consumer = Task {
                    for try await event in events {
                        let line = WatchLine(time: Date(), event: event)
                        // Straight to the file descriptor: no buffer holds a line back from a pipe.
                        let text = (json ? try Output.jsonLine(line) : line.description) + "\n"
                        try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
                    }
                }
                let traps = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
                    signal(number, SIG_IGN)   // handled by the source below, not by the default action
                    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                    source.setEventHandler { consumer.cancel() }
                    source.resume()
                    return source
                }
                defer { traps.forEach { $0.cancel() } }
                if isatty(STDERR_FILENO) == 1 {
                    writeToStandardError("watching session events\(role.map { " of role \($0)" } ?? "") (Ctrl-C to stop)\n")
                }
                do {
                    try await consumer.value
                } catch is CancellationError {
                    // Interrupted: a clean end.
                }
            }
        }
    }
}

/// One event as `watch` prints it.
struct WatchLine: Encodable, CustomStringConvertible {
    var time: Date
    var event: SessionEvent

    /// `2026-11-24 22:15:36.123Z  append   ceo-42  ceo  seq 3`.
    var description: String {
        let timestamp = PostgresTimestamp.format(time)   // 2026-11-24T21:30:47.123456+00:00
        let shown = String(timestamp.prefix(23)).replacingOccurrences(of: "T", with: " ") + "Z"
        var fields = [shown, event.kind.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)]
        fields.append(event.sessionID ?? "-")
        fields.append(event.agentRole ?? "-")
        if let seq = event.seq { fields.append("seq \(seq)") }
        if let count = event.count { fields.append(plural(count, "session")) }
        return fields.joined(separator: "  ")
    }

    enum CodingKeys: String, CodingKey {
        case time, event
        case sessionID = "session_id"
        case agentRole = "agent_role"
        case seq, count
    }

    /// Every key on every line, null when it does not apply, so that each line has one shape.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(time, forKey: .time)
        try container.encode(event.kind.rawValue, forKey: .event)
        try container.encode(event.sessionID, forKey: .sessionID)
        try container.encode(event.agentRole, forKey: .agentRole)
        try container.encode(event.seq, forKey: .seq)
        try container.encode(event.count, forKey: .count)
    }
}
