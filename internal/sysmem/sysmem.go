// Package sysmem reads how much memory this machine has.
package sysmem

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
)

// MemTotal is the machine's memory in bytes, from /proc/meminfo.
func MemTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("sysmem: /proc/meminfo has no MemTotal")
}
