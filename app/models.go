package app

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/maopao/maopao/engine"
	"github.com/maopao/maopao/engine/local"
	"github.com/maopao/maopao/engine/models"
	"github.com/maopao/maopao/gateway"
	"github.com/maopao/maopao/internal/sysmem"
	"github.com/maopao/maopao/protocol"
)

// modelManager installs catalogue models from the page and switches the
// in-process engine to them without a restart.
type modelManager struct {
	s    *Server
	swap *engine.Swappable
	dir  string
	hub  *models.Hub
	ctx  context.Context // ends when the server closes

	mu     sync.Mutex
	active string // the model file in use
	pull   *protocol.PullStatus
	wg     sync.WaitGroup
}

var _ gateway.Models = (*modelManager)(nil)

func (m *modelManager) Status(ctx context.Context) protocol.ModelStatus {
	cur := m.swap.Current()
	st := protocol.ModelStatus{Engine: m.swap.Describe(), Installed: []protocol.InstalledModel{}, Catalogue: []protocol.CatalogueModel{}}
	if e, ok := cur.(*local.Engine); ok {
		st.Untrained = e.Untrained()
	}
	m.mu.Lock()
	active := m.active
	if m.pull != nil {
		p := *m.pull
		st.Pull = &p
	}
	m.mu.Unlock()
	if all, err := models.List(m.dir); err == nil {
		for _, in := range all {
			st.Installed = append(st.Installed, protocol.InstalledModel{Name: in.Name, Size: in.Size, Arch: in.Arch, Quant: in.Quant,
				Context: in.Context, Active: in.Path == active})
		}
	}
	mem, _ := sysmem.MemTotal()
	for _, e := range models.Catalogue {
		st.Catalogue = append(st.Catalogue, protocol.CatalogueModel{Name: e.Name, Title: e.Title, Params: e.Params, Quant: e.Quant,
			Size: e.SizeBytes, RAM: e.RAMBytes, Languages: e.Languages, Licence: e.Licence, About: e.Description,
			Fits: mem == 0 || e.RAMBytes <= mem*8/10})
	}
	return st
}

func (m *modelManager) Pull(name string) error {
	e, ok := models.Lookup(name)
	if !ok {
		return fmt.Errorf("%q is not in the catalogue", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pull != nil && (m.pull.State == "pulling" || m.pull.State == "loading") {
		return gateway.ErrPullRunning
	}
	m.pull = &protocol.PullStatus{Name: e.Name, State: "pulling", Total: e.SizeBytes}
	m.wg.Add(1)
	go m.install(e.Name)
	return nil
}

func (m *modelManager) install(name string) {
	defer m.wg.Done()
	set := func(f func(p *protocol.PullStatus)) {
		m.mu.Lock()
		f(m.pull)
		m.mu.Unlock()
	}
	p := &models.Puller{Dir: m.dir, Hub: m.hub, Progress: func(pr models.Progress) {
		set(func(p *protocol.PullStatus) { p.Done, p.Total = pr.Done, pr.Total })
	}}
	in, err := models.Ensure(m.ctx, p, name)
	if err != nil {
		m.s.log.Warn("install model", "model", name, "err", err)
		set(func(p *protocol.PullStatus) { p.State, p.Error = "failed", err.Error() })
		return
	}
	set(func(p *protocol.PullStatus) { p.State, p.Done, p.Total = "loading", in.Size, in.Size })
	describe, untrained, err := m.use(in.Path)
	if err != nil {
		m.s.log.Warn("load model", "model", name, "err", err)
		set(func(p *protocol.PullStatus) { p.State, p.Error = "failed", err.Error() })
		return
	}
	// Done before players hear of the new engine: a page that asks for
	// the status on engine_changed must see the pull finished.
	set(func(p *protocol.PullStatus) { p.State = "done" })
	if m.s.gw != nil {
		m.s.gw.EngineChanged(describe, untrained)
	}
}

// use loads the model at path and makes it the engine's; it returns what
// players are told of the new engine.
func (m *modelManager) use(path string) (describe string, untrained bool, err error) {
	e, err := local.Open(path, m.s.engineOptions())
	if err != nil {
		return "", false, fmt.Errorf("load %s: %w", filepath.Base(path), err)
	}
	m.swap.Swap(e, e.Close)
	m.mu.Lock()
	m.active = path
	m.mu.Unlock()
	m.s.log.Info("engine: switched model", "model", path, "describe", e.Describe())
	return e.Describe(), e.Untrained(), nil
}
