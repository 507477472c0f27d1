package embedded

// InternalAddrs returns the gRPC addresses of the server's internal
// services (history, matching, worker and, with API keys, the internal
// frontend), for tests that check they refuse outside callers.
func InternalAddrs(s *Server) []string { return s.internal }
