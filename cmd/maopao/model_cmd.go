package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/maopao/maopao/engine/models"
	"github.com/maopao/maopao/internal/sysmem"
)

// modelsDir is where pulled models live in a data folder.
func modelsDir(data string) string { return filepath.Join(data, "models") }

func newModelCmd() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Get, list and remove GGUF chat models (from the Hugging Face Hub)",
		Long: `Get, list and remove the GGUF models the engine runs, kept in <data>/models.

pull takes a catalogue name (see "maopao model catalogue"), a Hugging Face
repository (owner/repo, its Q4_K_M file), owner/repo:FILE or owner/repo:QUANT,
or a URL. Downloads resume after an interruption, are checked against the
SHA-256 the Hub publishes, and appear under their final name only when
complete. HF_TOKEN is sent for gated repositories; HF_ENDPOINT replaces
the Hub's address (a mirror). Without a name, pull picks the best catalogue
model that fits this machine's memory.`,
	}
	cmd.PersistentFlags().StringVar(&data, "data", defaultDataDir(), "data folder (models go in its models/ folder)")

	pull := &cobra.Command{
		Use:   "pull [NAME|OWNER/REPO[:FILE]|URL]",
		Short: "Download a model",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			} else {
				mem, err := sysmem.MemTotal()
				if err != nil {
					return fmt.Errorf("name a model to pull (this system does not say how much memory it has: %v)", err)
				}
				e, ok := models.BestFit(mem * 8 / 10)
				if !ok {
					return fmt.Errorf("no catalogue model fits in %s of memory", models.HumanBytes(mem))
				}
				ref = e.Name
				fmt.Fprintf(cmd.ErrOrStderr(), "this machine has %s of memory: pulling %s (%s, needs about %s)\n",
					models.HumanBytes(mem), e.Name, e.Title, models.HumanBytes(e.RAMBytes))
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			m, err := pullWithProgress(ctx, modelsDir(data), ref, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", m.Name, m.Path)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the installed models: name, size, architecture, quantisation, context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := models.List(modelsDir(data))
			if err != nil {
				return err
			}
			if len(all) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "no models in %s yet: try \"maopao model pull\"\n", modelsDir(data))
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSIZE\tARCH\tQUANT\tCONTEXT\tSOURCE")
			for _, m := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", m.Name, models.HumanBytes(m.Size), m.Arch, m.Quant, m.Context, m.Source)
			}
			return tw.Flush()
		},
	}
	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove an installed model",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := models.Remove(modelsDir(data), args[0])
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%w; \"maopao model list\" shows what is installed", err)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s (%s)\n", m.Name, models.HumanBytes(m.Size))
			return nil
		},
	}
	catalogue := &cobra.Command{
		Use:   "catalogue",
		Short: "List the models pull knows by name: size, memory needed, languages, licence",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMODEL\tPARAMETERS\tFILE\tRAM\tLANGUAGES\tLICENCE\tREPOSITORY")
			for _, e := range models.Catalogue {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", e.Name, e.Title, e.Params, models.HumanBytes(e.SizeBytes), e.Quant,
					models.HumanBytes(e.RAMBytes), strings.Join(e.Languages, " "), e.Licence, e.Repo)
			}
			return tw.Flush()
		},
	}
	cmd.AddCommand(pull, list, rm, catalogue)
	return cmd
}

// pullWithProgress pulls ref (or finds it installed), drawing a progress
// bar on out: redrawn in place on a terminal, a line per tenth otherwise.
func pullWithProgress(ctx context.Context, dir, ref string, out io.Writer) (models.Installed, error) {
	tty := false
	if f, ok := out.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	lastTenth := int64(-1)
	p := &models.Puller{Dir: dir, Hub: models.FromEnv(), Progress: func(pr models.Progress) {
		line := progressLine(pr)
		switch {
		case tty:
			fmt.Fprintf(out, "\r%s\x1b[K", line)
		case pr.Total > 0 && pr.Done*10/pr.Total != lastTenth:
			lastTenth = pr.Done * 10 / pr.Total
			fmt.Fprintln(out, line)
		}
	}}
	m, err := models.Ensure(ctx, p, ref)
	if tty {
		fmt.Fprintln(out)
	}
	return m, err
}

func progressLine(pr models.Progress) string {
	const width = 30
	if pr.Total <= 0 {
		return fmt.Sprintf("%s: %s, %s/s", pr.Name, models.HumanBytes(pr.Done), models.HumanBytes(int64(pr.Speed)))
	}
	filled := int(float64(width) * float64(pr.Done) / float64(pr.Total))
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	eta := ""
	if pr.ETA > 0 {
		eta = ", " + pr.ETA.Round(time.Second).String() + " left"
	}
	return fmt.Sprintf("%s [%s] %3d%% %s of %s, %s/s%s", pr.Name, bar, pr.Done*100/pr.Total,
		models.HumanBytes(pr.Done), models.HumanBytes(pr.Total), models.HumanBytes(int64(pr.Speed)), eta)
}
