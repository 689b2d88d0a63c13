// Package lorebook owns lorebook (World Info) activation: deciding which
// entries of a character book enter a prompt for the recent chat, where
// they go and what they cost. It follows SillyTavern's World Info behaviour
// and the Card V2/V3 specs: constant entries, primary keys scanned in the
// last messages (plain, whole-word or regular expression, case-sensitive or
// not), selective secondary-key logic, bounded recursive scanning, V3
// decorators (@@depth, @@scan_depth, @@activate_only_after, ...) with @@@
// fallbacks, and a token budget that drops lower-priority entries first.
// Entries exported by SillyTavern (recognised by its extension fields) are
// read its way: their use_regex flag is ignored, since SillyTavern sets it
// on every entry, and its extensions (selectiveLogic, position/depth/role,
// scan_depth, case_sensitive, match_whole_words, exclude_recursion,
// prevent_recursion, delay_until_recursion, probability) are honoured.
// It is deterministic: the same book, chat and options give the same result.
package lorebook

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/maopao/maopao"
)

// Message is one message of the recent chat, oldest first.
type Message struct {
	Role string
	Text string
}

// Options tune one activation. The zero value uses the book's settings and
// SillyTavern's defaults.
type Options struct {
	// ScanDepth is how many of the last messages are scanned for keys:
	// > 0 overrides the book's scan_depth, 0 uses the book's (or 2), < 0
	// scans none (recursion still applies to constant entries' content).
	ScanDepth int
	// TokenBudget caps the activated content: > 0 is the caller's cap (the
	// book's token_budget still applies when smaller), 0 leaves only the
	// book's, < 0 means there is no room at all.
	TokenBudget int
	// MaxRecursion bounds recursive scanning passes: 0 means 3, < 0 none.
	MaxRecursion int
	// CountTokens counts tokens; nil estimates four bytes a token.
	CountTokens func(string) int
	// MessageIndex is how many messages the chat has had, for
	// @@activate_only_after and @@activate_only_every; 0 means len(chat).
	MessageIndex int
	// CharName and UserName fill {{char}} and {{user}} in keys and content
	// when Expand is nil.
	CharName, UserName string
	// Expand expands macros in keys and content (characters.MacroEnv.Expand
	// in a prompt); nil replaces only {{char}} and {{user}}.
	Expand func(string) string
	// Seed drives SillyTavern's per-entry "probability" rolls, together
	// with MessageIndex, so a replay fires the same entries.
	Seed uint64
}

// Activated is one entry that fired.
type Activated struct {
	Entry maopao.LoreEntry
	// Index is the entry's position in the book's entries.
	Index int
	// Content is the entry's content with decorators stripped and macros
	// expanded, ready for a prompt.
	Content string
	// Position is before_char, after_char, personality or scenario.
	Position string
	// Depth is -1, or N for content inserted into the chat N messages from
	// its end (0: after the newest message). It wins over Position.
	Depth int
	// Role is the chat role of depth-inserted content: system, user or
	// assistant.
	Role string
	// Reason says why the entry fired, e.g. `key "dragon" in chat[3]`,
	// "constant" or `key "ruins" via recursion from entry 2`.
	Reason string
	// Tokens is what Content costs.
	Tokens int
}

// Result is the outcome of one activation.
type Result struct {
	// Entries fired and fit the budget, in insertion order (lowest
	// insertion_order first; ties keep book order).
	Entries []Activated
	// Dropped fired but did not fit the token budget, lowest priority last.
	Dropped []Activated
	// TokensUsed is the cost of Entries.
	TokensUsed int
	// Warnings name entries that can never fire as written, such as a key
	// that is not a valid regular expression, or decorators not understood.
	Warnings []string
}

// Selective logic values, as SillyTavern stores them in an entry's
// extensions "selectiveLogic".
const (
	LogicAndAny = 0
	LogicNotAll = 1
	LogicNotAny = 2
	LogicAndAll = 3
)

var logicNames = [...]string{"AND ANY", "NOT ALL", "NOT ANY", "AND ALL"}

const (
	defaultScanDepth    = 2
	defaultMaxRecursion = 3
)

// entry is a book entry prepared for one activation.
type entry struct {
	index      int
	src        maopao.LoreEntry
	set        settings
	content    string // expanded, for the prompt
	scan       string // expanded, for recursive scanning
	keys       []*matcher
	secondary  []*matcher
	exclude    []*matcher
	additional []*matcher
	logic      int
	selective  bool
	constant   bool
	priority   int
	noRecurse  bool // exclude_recursion: only the chat can fire it
	noFeed     bool // prevent_recursion: its content fires nothing
	delayed    bool // delay_until_recursion: only recursion can fire it
	chance     int  // percent; 100 unless SillyTavern's useProbability says less
}

// Activate decides which entries of book fire for chat. A nil book or an
// empty chat is fine; nothing in the book can make it panic.
func Activate(book *maopao.Lorebook, chat []Message, opt Options) Result {
	var res Result
	if book == nil {
		return res
	}
	count := opt.CountTokens
	if count == nil {
		count = func(s string) int { return (len(s) + 3) / 4 }
	}
	expand := opt.Expand
	if expand == nil {
		expand = simpleExpander(opt.CharName, opt.UserName)
	}
	msgIndex := opt.MessageIndex
	if msgIndex <= 0 {
		msgIndex = len(chat)
	}
	scanDepth := defaultScanDepth
	if book.ScanDepth != nil {
		scanDepth = max(*book.ScanDepth, 0)
	}
	switch {
	case opt.ScanDepth > 0:
		scanDepth = opt.ScanDepth
	case opt.ScanDepth < 0:
		scanDepth = 0
	}
	budget, limited := -1, false
	if book.TokenBudget != nil && *book.TokenBudget > 0 {
		budget, limited = *book.TokenBudget, true
	}
	switch {
	case opt.TokenBudget > 0 && (!limited || opt.TokenBudget < budget):
		budget, limited = opt.TokenBudget, true
	case opt.TokenBudget < 0:
		budget, limited = 0, true
	}
	passes := defaultMaxRecursion
	switch {
	case opt.MaxRecursion > 0:
		passes = opt.MaxRecursion
	case opt.MaxRecursion < 0:
		passes = 0
	}
	if book.RecursiveScanning != nil && !*book.RecursiveScanning {
		passes = 0
	}

	texts := make([]text, len(chat))
	for i, m := range chat {
		texts[i] = newText(m.Text)
	}

	slow := &slowBudget{left: slowRegexBudget}
	var cands []*entry
	for i, src := range book.Entries {
		e, warn := prepare(i, src, expand, msgIndex, slow)
		res.Warnings = append(res.Warnings, warn...)
		if e != nil {
			cands = append(cands, e)
		}
	}

	fired := map[int]bool{}
	var feed []fedText // content of admitted entries, for recursion
	used := 0
	full := false
	for pass := 0; pass <= passes && !full; pass++ {
		var now []Activated
		var nowEntries []*entry
		for _, e := range cands {
			if fired[e.index] {
				continue
			}
			reason, ok := e.fires(pass, texts, scanDepth, feed)
			if !ok {
				continue
			}
			fired[e.index] = true
			if e.chance < 100 {
				// A failed roll counts as this turn's decision: the entry
				// does not get another chance in a later pass.
				roll := int(mix(opt.Seed^mix(uint64(msgIndex)<<20^uint64(e.index))) % 100)
				if roll >= e.chance {
					continue
				}
				reason += fmt.Sprintf(" (rolled %d < %d%%)", roll, e.chance)
			}
			depth, pos := e.set.depth, e.set.position
			now = append(now, Activated{
				Entry: e.src, Index: e.index, Content: e.content, Position: pos,
				Depth: depth, Role: e.set.role, Reason: reason, Tokens: count(e.content),
			})
			nowEntries = append(nowEntries, e)
		}
		if len(now) == 0 {
			break
		}
		// Rank by what the budget keeps first: constant entries, then
		// higher priority, then later insertion order, then book order.
		order := make([]int, len(now))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			ea, eb := nowEntries[a], nowEntries[b]
			if ea.always() != eb.always() {
				if ea.always() {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(eb.priority, ea.priority); c != 0 {
				return c
			}
			if c := cmp.Compare(eb.src.InsertionOrder, ea.src.InsertionOrder); c != 0 {
				return c
			}
			return cmp.Compare(ea.index, eb.index)
		})
		for _, i := range order {
			a, e := now[i], nowEntries[i]
			// Once one entry overflows, lower-ranked ones are dropped too,
			// even if they would fit: a smaller, less important entry must
			// not win over a larger, more important one.
			if full || (limited && used+a.Tokens > budget) {
				full = true
				res.Dropped = append(res.Dropped, a)
				continue
			}
			used += a.Tokens
			res.Entries = append(res.Entries, a)
			if !e.noFeed {
				feed = append(feed, fedText{from: e.index, t: newText(e.scan)})
			}
		}
	}
	slices.SortStableFunc(res.Entries, func(a, b Activated) int {
		if c := cmp.Compare(a.Entry.InsertionOrder, b.Entry.InsertionOrder); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	res.TokensUsed = used
	if slow.exhausted {
		res.Warnings = append(res.Warnings, fmt.Sprintf("regular-expression keys with lookaround or backreferences used up their %v; later matches were skipped", slowRegexBudget))
	}
	return res
}

// mix is the splitmix64 finaliser, a well-spread hash for seeded rolls.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// always reports whether the entry fires without keys.
func (e *entry) always() bool { return e.constant || e.set.forceActivate }

type fedText struct {
	from int
	t    text
}

// prepare parses an entry's decorators and extensions and compiles its
// keys. It returns nil for entries that can never fire.
func prepare(i int, src maopao.LoreEntry, expand func(string) string, msgIndex int, slow *slowBudget) (*entry, []string) {
	if !src.Enabled {
		return nil, nil
	}
	var warns []string
	where := fmt.Sprintf("entry %d", i)
	if src.Name != "" {
		where += fmt.Sprintf(" (%q)", src.Name)
	} else if src.Comment != "" {
		where += fmt.Sprintf(" (%q)", src.Comment)
	}
	ext := src.Extensions
	e := &entry{index: i, src: src}
	e.set = settings{depth: -1, scanDepth: -1, role: "system", position: PositionBeforeChar}
	if src.Position == PositionAfterChar {
		e.set.position = PositionAfterChar
	}
	// SillyTavern keeps its richer settings in extensions; decorators,
	// read below, win over them.
	if p, ok := extInt(ext, "position"); ok {
		switch p {
		case 0:
			e.set.position = PositionBeforeChar
		case 4:
			e.set.depth = 4
			if d, ok := extInt(ext, "depth"); ok {
				e.set.depth = max(d, 0)
			}
		default:
			if src.Position == "" {
				e.set.position = PositionAfterChar
			}
		}
	}
	if r, ok := extInt(ext, "role"); ok {
		e.set.role = [...]string{"system", "user", "assistant"}[min(max(r, 0), 2)]
	}
	if d, ok := extInt(ext, "scan_depth"); ok {
		e.set.scanDepth = max(d, 0)
	}
	decs, body := SplitDecorators(src.Content)
	seen := map[string]bool{}
	for _, d := range decs {
		if name := e.set.apply(d, seen); name != "" {
			warns = append(warns, fmt.Sprintf("%s: decorator @@%s is not supported and has no usable fallback; ignored", where, name))
		}
	}
	// @@position wins over @@depth, as the V3 spec says.
	if e.set.positionSet {
		e.set.depth = -1
	}
	if e.set.forceActivate {
		// @@activate fires "in any case", past every other condition.
		e.set.dontActivate, e.set.onlyAfter, e.set.onlyEvery = false, 0, 0
	}
	if e.set.dontActivate {
		return nil, warns
	}
	if e.set.onlyAfter > 0 && msgIndex < e.set.onlyAfter {
		return nil, warns
	}
	if e.set.onlyEvery > 0 && msgIndex%e.set.onlyEvery != 0 {
		return nil, warns
	}

	e.content = strings.TrimSpace(expand(stripHiddenKeys(body, false)))
	if e.content == "" {
		return nil, warns
	}
	e.scan = e.content
	if containsFold(body, "{{hidden_key:") {
		e.scan = expand(stripHiddenKeys(body, true))
	}

	mode := keyMode{caseSensitive: false, wholeWords: true, slow: slow}
	if src.CaseSensitive != nil {
		mode.caseSensitive = *src.CaseSensitive
	} else if b, ok := extBool(ext, "case_sensitive"); ok {
		mode.caseSensitive = b
	}
	if b, ok := extBool(ext, "match_whole_words"); ok {
		mode.wholeWords = b
	}
	// SillyTavern exports every entry with use_regex true while its keys
	// are plain words (regular expressions only when written /like/this),
	// so an entry carrying SillyTavern's own extensions is read its way.
	mode.useRegex = src.UseRegex != nil && *src.UseRegex && !fromSillyTavern(ext)
	compile := func(what string, keys []string) []*matcher {
		var ms []*matcher
		for _, k := range keys {
			if strings.TrimSpace(k) == "" {
				continue
			}
			m, err := compileKey(expand(k), mode)
			if err != nil {
				warns = append(warns, fmt.Sprintf("%s: %s %q %v", where, what, k, err))
				continue
			}
			ms = append(ms, m)
		}
		return ms
	}
	e.keys = compile("key", src.Keys)
	e.secondary = compile("secondary key", src.SecondaryKeys)
	e.exclude = compile("@@exclude_keys", e.set.excludeKeys)
	e.additional = compile("@@additional_keys", e.set.additional)
	e.selective = src.Selective != nil && *src.Selective && len(e.secondary) > 0
	if l, ok := extInt(ext, "selectiveLogic"); ok && l >= LogicAndAny && l <= LogicAndAll {
		e.logic = l
	}
	e.constant = src.Constant != nil && *src.Constant
	e.priority = src.InsertionOrder
	if src.Priority != nil {
		e.priority = *src.Priority
	}
	e.noRecurse, _ = extBool(ext, "exclude_recursion")
	e.noFeed, _ = extBool(ext, "prevent_recursion")
	e.delayed, _ = extBool(ext, "delay_until_recursion")
	e.chance = 100
	if use, _ := extBool(ext, "useProbability"); use {
		if p, ok := extInt(ext, "probability"); ok {
			e.chance = min(max(p, 0), 100)
		}
	}
	if !e.constant && !e.set.forceActivate && len(e.keys) == 0 {
		if len(src.Keys) > 0 {
			warns = append(warns, fmt.Sprintf("%s: no usable key; it can never fire", where))
		}
		return nil, warns
	}
	return e, warns
}

// fires decides whether e fires in this pass (0: the chat; later: the
// chat plus the content of entries admitted in earlier passes) and says
// why. Later passes see a superset of what earlier ones saw, so an entry
// that fires late owes it to recursion.
func (e *entry) fires(pass int, chat []text, scanDepth int, feed []fedText) (string, bool) {
	if pass == 0 {
		if e.set.forceActivate {
			return "@@activate", true
		}
		if e.constant {
			return "constant", true
		}
		if e.delayed {
			return "", false
		}
	} else if e.noRecurse {
		return "", false
	}
	depth := scanDepth
	if e.set.scanDepth >= 0 {
		depth = e.set.scanDepth
	}
	first := max(len(chat)-depth, 0)
	if pass == 0 {
		feed = nil
	}
	// found looks in the scanned messages, newest first, then in the
	// recursion text; where is built only for a hit.
	found := func(m *matcher) (string, bool) {
		for i := len(chat) - 1; i >= first; i-- {
			if m.in(chat[i]) {
				return fmt.Sprintf("in chat[%d]", i), true
			}
		}
		for _, f := range feed {
			if m.in(f.t) {
				return fmt.Sprintf("via recursion from entry %d", f.from), true
			}
		}
		return "", false
	}
	anyFound := func(ms []*matcher) bool {
		for _, m := range ms {
			if _, ok := found(m); ok {
				return true
			}
		}
		return false
	}
	reason := ""
	for _, m := range e.keys {
		if where, ok := found(m); ok {
			reason = fmt.Sprintf("key %q %s", m.key, where)
			break
		}
	}
	if reason == "" || anyFound(e.exclude) {
		return "", false
	}
	if len(e.additional) > 0 && !anyFound(e.additional) {
		return "", false
	}
	if !e.selective {
		return reason, true
	}
	hits, hitNote := 0, ""
	for _, m := range e.secondary {
		if where, ok := found(m); ok {
			if hits == 0 {
				hitNote = fmt.Sprintf(" %q %s", m.key, where)
			}
			hits++
		}
	}
	n := len(e.secondary)
	var ok bool
	switch e.logic {
	case LogicAndAny:
		ok = hits > 0
	case LogicAndAll:
		ok = hits == n
	case LogicNotAny:
		ok, hitNote = hits == 0, ""
	case LogicNotAll:
		ok, hitNote = hits < n, ""
	}
	if !ok {
		return "", false
	}
	return reason + ", " + logicNames[e.logic] + hitNote, true
}

// fromSillyTavern recognises an entry exported by SillyTavern by the
// extension fields only it writes.
func fromSillyTavern(ext map[string]any) bool {
	for _, k := range [...]string{"display_index", "selectiveLogic", "useProbability", "exclude_recursion", "prevent_recursion"} {
		if _, ok := ext[k]; ok {
			return true
		}
	}
	return false
}

func extInt(ext map[string]any, name string) (int, bool) {
	switch v := ext[name].(type) {
	case float64:
		if v != v || v > 1e9 || v < -1e9 {
			return 0, false
		}
		return int(v), true
	case int:
		return v, true
	case int32:
		return int(v), true
	case int64:
		if v > 1e9 || v < -1e9 {
			return 0, false
		}
		return int(v), true
	}
	return 0, false
}

func extBool(ext map[string]any, name string) (bool, bool) {
	b, ok := ext[name].(bool)
	return b, ok
}

func containsFold(s, sub string) bool { return indexFold(s, sub) >= 0 }

// indexFold finds an ASCII sub in s ignoring case, at a byte offset of s
// itself (lower-casing s first could shift offsets).
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// stripHiddenKeys removes {{hidden_key:A}} (keep=false, for the prompt) or
// replaces it with A (keep=true, for recursive scanning), as the V3 spec
// asks: hidden keys fire entries by recursion but never reach a prompt.
func stripHiddenKeys(s string, keep bool) string {
	const open = "{{hidden_key:"
	var b strings.Builder
	for {
		i := indexFold(s, open)
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		if keep {
			b.WriteString(" " + s[i+len(open):i+j] + " ")
		}
		s = s[i+j+2:]
	}
	b.WriteString(s)
	return b.String()
}

// simpleExpander fills {{char}} and {{user}} (any case) and the older
// <BOT>/<USER> spellings when no full macro pass is given.
func simpleExpander(char, user string) func(string) string {
	return func(s string) string {
		if !strings.ContainsAny(s, "{<") {
			return s
		}
		var b strings.Builder
		for i := 0; i < len(s); {
			matched := false
			for _, m := range [...]struct{ tok, val string }{
				{"{{char}}", char}, {"{{user}}", user}, {"<bot>", char}, {"<char>", char}, {"<user>", user},
			} {
				if len(s)-i >= len(m.tok) && strings.EqualFold(s[i:i+len(m.tok)], m.tok) {
					b.WriteString(m.val)
					i += len(m.tok)
					matched = true
					break
				}
			}
			if !matched {
				b.WriteByte(s[i])
				i++
			}
		}
		return b.String()
	}
}
