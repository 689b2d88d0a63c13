package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/maopao/maopao"
	"github.com/maopao/maopao/protocol"
)

// worldSummaries caches what the world list shows of each world: building
// it reads every resident's card from the store, too much for every
// list_worlds of every player. An entry holds while the world's revision
// is the same and no character changed (any gateway's characters-changed
// notice empties the cache), and for worldSummaryTTL at most, in case
// that notice was missed.
type worldSummaries struct {
	mu      sync.Mutex
	entries map[string]worldSummaryEntry
}

const worldSummaryTTL = time.Minute

type worldSummaryEntry struct {
	revision  int
	updatedAt time.Time
	built     time.Time
	summary   protocol.WorldSummary // Characters left out: they depend on who asks
	residents []summaryResident
}

// summaryResident is what deciding who sees a resident needs.
type summaryResident struct {
	id, name, ownerID string
	private           bool
}

// forget drops every cached summary (a character changed).
func (ws *worldSummaries) forget() {
	ws.mu.Lock()
	ws.entries = nil
	ws.mu.Unlock()
}

// summary returns w's summary as player sees it: a resident made private
// since the world took it in shows to its owner only.
func (ws *worldSummaries) summary(ctx context.Context, load func(context.Context, string) (maopao.Character, error), w maopao.World, player string) protocol.WorldSummary {
	ws.mu.Lock()
	e, ok := ws.entries[w.ID]
	ws.mu.Unlock()
	if !ok || e.revision != w.Revision || !e.updatedAt.Equal(w.UpdatedAt) || time.Since(e.built) > worldSummaryTTL {
		e = buildWorldSummary(ctx, load, w)
		ws.mu.Lock()
		if ws.entries == nil {
			ws.entries = map[string]worldSummaryEntry{}
		}
		ws.entries[w.ID] = e
		ws.mu.Unlock()
	}
	sum := e.summary
	sum.Characters = make([]protocol.Actor, 0, len(e.residents))
	for _, r := range e.residents {
		if !r.private || r.ownerID == player {
			sum.Characters = append(sum.Characters, protocol.Actor{Kind: "character", ID: r.id, Name: r.name})
		}
	}
	return sum
}

func buildWorldSummary(ctx context.Context, load func(context.Context, string) (maopao.Character, error), w maopao.World) worldSummaryEntry {
	e := worldSummaryEntry{revision: w.Revision, updatedAt: w.UpdatedAt, built: time.Now(),
		summary: protocol.WorldSummary{ID: w.ID, Name: w.Name, Description: clipRunes(w.Description, listNotesRunes), Residents: len(w.Residents),
			Locations: []protocol.LocationSummary{}, SimMinutesPerSecond: w.SimMinutesPerSecond}}
	for _, l := range w.Locations {
		ls := protocol.LocationSummary{ID: l.ID, Name: l.Name, Description: clipRunes(l.Description, listTextRunes), Connections: l.Connections}
		if l.Map != nil {
			ls.Map = &protocol.MapPoint{X: l.Map.X, Y: l.Map.Y}
		}
		e.summary.Locations = append(e.summary.Locations, ls)
	}
	for _, r := range w.Residents {
		ch, err := load(ctx, r.CharacterID)
		if err != nil {
			// Gone, or the store failed: not shown, and not cached as
			// gone for longer than the TTL.
			continue
		}
		e.residents = append(e.residents, summaryResident{id: r.CharacterID, name: ch.Name, ownerID: ch.OwnerID, private: ch.Visibility == maopao.VisibilityPrivate})
	}
	return e
}
