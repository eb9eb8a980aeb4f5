import Foundation
import Testing

/// `watch` as a user runs it: a long-running process that prints events made by other processes.
@Suite("llm-sessions watch, against the real server")
struct CLIWatchTests {
    /// Appends to `id` from other processes until `watcher` has printed a line that `matches`, for at most `seconds`.
    private static func appendUntilSeen(
        _ id: String, by watcher: CLI.Running, within seconds: Double = 15, matches: (Substring) -> Bool
    ) throws -> Substring? {
        let deadline = Date().addingTimeInterval(seconds)
        // The watcher's LISTEN may not be in place yet: append again until one event shows up.
        while Date() < deadline {
            let appended = try CLI.run(["append", id, "--question", "q", "--response", "r"])
            #expect(appended.status == 0, "\(appended)")
            let poll = Date().addingTimeInterval(1)
            while Date() < poll {
                if let line = watcher.stdout.split(separator: "\n").first(where: matches) { return line }
                usleep(50_000)
            }
        }
        return nil
    }

    @Test("watch --json prints an append made by another process, one JSON object per line, and SIGTERM ends it with 0")
    func watchJSON() throws {
        let role = "cli_watch_\(UUID().uuidString.prefix(6).lowercased())"
        let id = CLI.uniqueID("cli-watch")
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }

        let watcher = try CLI.start(["watch", "--role", role, "--json"])
        let line = try Self.appendUntilSeen(id, by: watcher) { $0.contains(id) }
        let status = watcher.stop(with: SIGTERM)
        let seen = try #require(line, "no event within 15 s; stdout: \(watcher.stdout) stderr: \(watcher.stderr)")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(seen.utf8)) as? [String: Any])
        #expect(event["event"] as? String == "append")
        #expect(event["session_id"] as? String == id)
        #expect(event["agent_role"] as? String == role)
        #expect(event["seq"] as? Int ?? 0 >= 1)
        #expect((event["time"] as? String)?.hasSuffix("+00:00") == true, "\(event)")
        #expect(event.keys.contains("count"), "every line has every key")
        for other in watcher.stdout.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(other.utf8)) as? [String: Any]
            // --role keeps the role's events, and the role-less ones of cleanup batches.
            #expect(object?["agent_role"] as? String == role || object?["session_id"] is NSNull, "--role filters: \(other)")
        }
        #expect(status?.reason == .exit, "SIGTERM is handled, not fatal: \(watcher.stderr)")
        #expect(status?.status == 0, "\(watcher.stderr)")
    }

    @Test("watch prints a line per event for people, and SIGINT ends it with 0")
    func watchTable() throws {
        let role = "cli_watch_\(UUID().uuidString.prefix(6).lowercased())"
        let id = CLI.uniqueID("cli-watch")
        #expect(try CLI.run(["create", "--role", role, "--id", id]).status == 0)
        defer { _ = try? CLI.run(["end", id]) }

        let watcher = try CLI.start(["watch", "--role", role])
        let line = try Self.appendUntilSeen(id, by: watcher) { $0.contains(id) }
        let status = watcher.stop(with: SIGINT)
        let seen = try #require(line, "no event within 15 s; stdout: \(watcher.stdout) stderr: \(watcher.stderr)")
        let fields = seen.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(fields.count == 7, "date, time, event, session, role, seq n: \(seen)")
        #expect(fields.dropFirst(2).prefix(3) == ["append", id, role], "\(seen)")
        #expect(fields.dropFirst(5).first == "seq", "\(seen)")
        #expect(status?.reason == .exit, "\(watcher.stderr)")
        #expect(status?.status == 0, "\(watcher.stderr)")
    }
}
