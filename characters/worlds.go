package characters

import (
	"time"

	"github.com/maopao/maopao"
)

// SampleWorlds are the built-in worlds every fresh installation has: the
// sample characters living in one small town.
func SampleWorlds() []maopao.World {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	s := Samples()
	xiaoyu, ren, mei := s[0].ID, s[1].ID, s[2].ID
	return []maopao.World{{
		ID:          "00000000-0000-4000-8000-0000000000a1",
		Name:        "Misty Harbour",
		Description: "A small harbour town where the fog rolls in every evening. Drop by the tea house, walk the pier, or visit the little academy on the hill.",
		Locations: []maopao.Location{
			{ID: "tea-house", Name: "Xiaoyu's Tea House", Description: "Steam, lanterns and the smell of osmanthus.", Connections: []string{"square"}},
			{ID: "square", Name: "Town Square", Description: "A fountain, a noticeboard, pigeons.", Connections: []string{"tea-house", "pier", "academy"}},
			{ID: "pier", Name: "The Pier", Description: "Fishing boats and Captain Ren's salvage tug.", Connections: []string{"square"}},
			{ID: "academy", Name: "Hill Academy", Description: "Chalk dust and a view of the whole bay.", Connections: []string{"square"}},
		},
		Residents: []maopao.Resident{
			{CharacterID: xiaoyu, LocationID: "tea-house", Talkativeness: 0.8, Routine: []maopao.RoutineStep{
				{AtMinute: 6 * 60, LocationID: "tea-house", Activity: "opening the tea house"},
				{AtMinute: 14 * 60, LocationID: "square", Activity: "buying fresh leaves at the market"},
				{AtMinute: 15 * 60, LocationID: "tea-house", Activity: "serving afternoon tea"},
			}},
			{CharacterID: ren, LocationID: "pier", Talkativeness: 0.4, Routine: []maopao.RoutineStep{
				{AtMinute: 7 * 60, LocationID: "pier", Activity: "patching the tug's hull"},
				{AtMinute: 17 * 60, LocationID: "tea-house", Activity: "drinking a strong black tea"},
				{AtMinute: 19 * 60, LocationID: "pier", Activity: "checking the mooring lines"},
			}},
			{CharacterID: mei, LocationID: "academy", Talkativeness: 0.6, Routine: []maopao.RoutineStep{
				{AtMinute: 8 * 60, LocationID: "academy", Activity: "teaching"},
				{AtMinute: 12 * 60, LocationID: "square", Activity: "reading on the fountain's edge"},
				{AtMinute: 13 * 60, LocationID: "academy", Activity: "holding office hours"},
			}},
		},
		SimMinutesPerSecond: 1,
		Visibility:          maopao.VisibilityPublic,
		BuiltIn:             true,
		Revision:            1,
		CreatedAt:           at,
		UpdatedAt:           at,
	}}
}
