package gateway

import "net/http"

// registerCreatorAPI mounts the character and account REST API
// (/api/v1/characters..., /api/v1/accounts...).
func (s *Server) registerCreatorAPI(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/characters", s.handleCharacters)
}
