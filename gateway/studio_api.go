package gateway

import "net/http"

// registerStudioAPI mounts the creator studio's endpoints (draft previews).
func (s *Server) registerStudioAPI(mux *http.ServeMux) {}
