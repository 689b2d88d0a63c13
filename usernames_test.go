package maopao

import "testing"

func TestUsernameKeyJoinsLookalikes(t *testing.T) {
	same := [][2]string{
		{"Ilya", "llya"},
		{"Ilya", "1lya"},
		{"admin", "admin."},
		{"admin", "Admin"},
		{"admin", "ad_min"},
		{"admin", "adrnin"},
		{"bob0", "BOBO"},
		{"wendy", "vvendy"},
		{"j.doe", "jdoe"},
	}
	for _, p := range same {
		if UsernameKey(p[0]) != UsernameKey(p[1]) {
			t.Errorf("UsernameKey(%q) = %q, UsernameKey(%q) = %q; want equal", p[0], UsernameKey(p[0]), p[1], UsernameKey(p[1]))
		}
	}
	differ := [][2]string{
		{"alice", "alicia"},
		{"bob", "rob"},
		{"mia", "nia"},
		{"user1", "user2"},
	}
	for _, p := range differ {
		if UsernameKey(p[0]) == UsernameKey(p[1]) {
			t.Errorf("UsernameKey(%q) = UsernameKey(%q) = %q; want different", p[0], p[1], UsernameKey(p[0]))
		}
	}
}
