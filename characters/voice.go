package characters

import (
	"unicode"

	"github.com/maopao/maopao"
)

// Voice is how a character sounds: a voice of the speech server, and a
// language for the browser's own voices when there is no server. Cards
// keep it in extensions.maopao.voice ({"name", "lang"}), so it travels
// with exported cards and other apps keep it untouched.
type Voice struct {
	Name string `json:"name,omitempty"`
	Lang string `json:"lang,omitempty"` // BCP 47, e.g. "en-US", "zh-CN"
}

// VoiceOf reads a character's voice; the language, when the card names
// none, is guessed from its text (Chinese, Japanese or Korean script, else
// English).
func VoiceOf(c maopao.Character) Voice {
	var v Voice
	if m, ok := c.Extensions["maopao"].(map[string]any); ok {
		if vm, ok := m["voice"].(map[string]any); ok {
			v.Name, _ = vm["name"].(string)
			v.Lang, _ = vm["lang"].(string)
		}
	}
	if v.Lang == "" {
		v.Lang = guessLang(c.Name + " " + c.Description + " " + c.FirstMes)
	}
	return v
}

func guessLang(text string) string {
	han, kana, hangul, letters := 0, 0, 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r):
			kana++
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case unicode.Is(unicode.Han, r):
			han++
		case unicode.IsLetter(r):
			letters++
		}
	}
	switch {
	case kana > 0 && kana+han >= letters:
		return "ja-JP"
	case hangul > 0 && hangul >= letters:
		return "ko-KR"
	case han > 0 && han >= letters/2:
		return "zh-CN"
	}
	return "en-US"
}
