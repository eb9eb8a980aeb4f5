import Foundation
import Testing
@testable import LLMSessions

@Suite("Prepared statements: made once per connection, made again when the server forgot them")
struct PreparedStatementTests {
    @Test("a call after DEALLOCATE ALL prepares its statement again")
    func deallocated() async throws {
        let store = try TestDatabase.makeStore(poolSize: 1)
        let id = TestDatabase.uniqueID("prepared")
        #expect(try await store.session(id) == nil)  // prepares get_session on the one connection
        _ = try await store.withConnection(context: CallContext()) { (connection) throws(DatabaseFailure) in
            try connection.query("DEALLOCATE ALL")
        }
        #expect(try await store.session(id) == nil)
        await store.close()
    }

    @Test("a function whose result type changes (as a migration may do) is planned again, not an error")
    func resultTypeChanged() async throws {
        let store = try TestDatabase.makeStore(poolSize: 1)
        let function = "public.llm_prepared_test_\(UUID().uuidString.prefix(8).lowercased())"
        try await TestDatabase.superuser("CREATE FUNCTION \(function)() RETURNS integer LANGUAGE sql AS 'SELECT 1'")
        do {
            // SELECT * makes the statement's result type follow the function's.
            #expect(try await store.callScalar("SELECT * FROM \(function)()", Bind(), retry: .never, context: CallContext()) == "1")
            try await TestDatabase.superuser("DROP FUNCTION \(function)()")
            try await TestDatabase.superuser("CREATE FUNCTION \(function)() RETURNS text LANGUAGE sql AS 'SELECT ''one'''")
            #expect(try await store.callScalar("SELECT * FROM \(function)()", Bind(), retry: .never, context: CallContext()) == "one")
        } catch {
            _ = try? await TestDatabase.superuser("DROP FUNCTION IF EXISTS \(function)()")
            throw error
        }
        try await TestDatabase.superuser("DROP FUNCTION \(function)()")
        await store.close()
    }
}
