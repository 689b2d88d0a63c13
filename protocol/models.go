package protocol

// Models on this server, as GET /api/v1/models answers (the in-process
// engine only; a gateway without an engine answers 404).
type ModelStatus struct {
	// Engine says in words what writes replies now; Untrained is true when
	// that is a model with random weights (replies are not dialogue).
	Engine    string           `json:"engine"`
	Untrained bool             `json:"untrained"`
	Installed []InstalledModel `json:"installed"`
	Catalogue []CatalogueModel `json:"catalogue"`
	// Pull is the last install started from the page, if any.
	Pull *PullStatus `json:"pull,omitempty"`
	// CanInstall is false when this client may not install models (only
	// the machine Maopao runs on may).
	CanInstall bool `json:"can_install"`
}

// InstalledModel is a model file in the data folder.
type InstalledModel struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	Arch    string `json:"arch"`
	Quant   string `json:"quant"`
	Context int    `json:"context"`
	Active  bool   `json:"active"`
}

// CatalogueModel is a model `maopao model pull` knows by name.
type CatalogueModel struct {
	Name      string   `json:"name"`
	Title     string   `json:"title"`
	Params    string   `json:"params"`
	Quant     string   `json:"quant"`
	Size      int64    `json:"size"`
	RAM       int64    `json:"ram"`
	Languages []string `json:"languages"`
	Licence   string   `json:"licence"`
	About     string   `json:"about"`
	Fits      bool     `json:"fits"` // this machine has the memory for it
}

// PullStatus is how an install from the page goes: State is "pulling",
// "loading" (downloaded; the engine is switching to it), "done" or
// "failed" (Error says why).
type PullStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Error string `json:"error,omitempty"`
}

// PullRequest is the body of POST /api/v1/models/pull.
type PullRequest struct {
	Name string `json:"name"`
}

// TypeEngineChanged (gateway → client) says the engine now runs another
// model: {engine, untrained}.
const TypeEngineChanged = "engine_changed"

// EngineChanged is the TypeEngineChanged frame.
type EngineChanged struct {
	Envelope
	Engine    string `json:"engine"`
	Untrained bool   `json:"untrained"`
}
