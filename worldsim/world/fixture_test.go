package world

import (
	"github.com/maopao/maopao"
)

// lane is a small world for tests: four places, four residents.
func lane() (maopao.World, []maopao.Character) {
	def := maopao.World{
		ID: "lane", Name: "Willow Lane", Description: "A quiet lane by the river.", SimMinutesPerSecond: 1,
		Locations: []maopao.Location{
			{ID: "square", Name: "the Square", Description: "A cobbled square with a fountain.", Connections: []string{"cafe", "library"}},
			{ID: "cafe", Name: "the Cafe", Description: "Warm bread and strong tea.", Connections: []string{"square"}},
			{ID: "library", Name: "the Library", Description: "Quiet shelves.", Connections: []string{"square"}},
			{ID: "home", Name: "Mira's house", Connections: []string{"square"}},
		},
		Residents: []maopao.Resident{
			{CharacterID: "mira", LocationID: "square", Talkativeness: 0.9, Routine: []maopao.RoutineStep{
				{AtMinute: 480, LocationID: "cafe", Activity: "baking bread"},
				{AtMinute: 720, LocationID: "square", Activity: "selling bread"},
				{AtMinute: 1200, LocationID: "home", Activity: "sleeping"},
			}},
			{CharacterID: "bob", LocationID: "square", Talkativeness: 0.2, Routine: []maopao.RoutineStep{
				{AtMinute: 540, LocationID: "library", Activity: "sorting books"},
				{AtMinute: 1080, LocationID: "square", Activity: "walking"},
			}},
			{CharacterID: "chen", LocationID: "square", Talkativeness: 0.5},
			{CharacterID: "dana", LocationID: "library", Talkativeness: 0.5},
		},
	}
	chars := []maopao.Character{
		{ID: "mira", Name: "Mira", Description: "The baker of Willow Lane. Knows every loaf and every rumour.", Personality: "warm, chatty, curious about bread and gossip", Tags: []string{"baker"}, CreatorNotes: "SECRET-CREATOR-NOTE"},
		{ID: "bob", Name: "Bob", Description: "The librarian. Loves old maps and quiet.", Personality: "shy, precise", PostHistoryInstructions: "Keep {{char}}'s answers under twenty words."},
		{ID: "chen", Name: "小陈", Nickname: "Chen", Description: "一个喜欢喝茶的画家。", Personality: "安静，爱画画"},
		{ID: "dana", Name: "Dana", Description: "A sailor who tells stories of storms at sea.", Personality: "bold, loud", SystemPrompt: "{{original}} {{char}} swears like a sailor but never at {{user}}."},
	}
	return def, chars
}
