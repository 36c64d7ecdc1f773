package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"slices"
	"strings"
)

// The plot is drawn with the standard library only: axes, grid lines,
// one polyline per path over the packet sizes, and labels from a tiny
// built-in 3×5 pixel font (digits, a few letters), so that the chart is
// readable without a font dependency. The legend maps colours to paths.

// PlotSeries is one path's throughput by packet size.
type PlotSeries struct {
	Name   string
	Points []PlotPoint // in size order
}

// PlotPoint is Gbit/s at a packet size label.
type PlotPoint struct {
	Size string
	Gbps float64
}

// plotSizes is the x axis.
var plotSizes = []string{"64", "512", "1400", "imix"}

// PlotData extracts, per packet path, the median Gbit/s at each size
// (first worker count measured, so each path is one line).
func (r *Report) PlotData() []PlotSeries {
	var out []PlotSeries
	index := map[string]int{}
	for _, x := range r.Results {
		if x.Skipped != "" || x.Gbps.IsZero() || !slices.Contains(plotSizes, x.Size) {
			continue
		}
		// The legend has room for about 36 characters.
		name := strings.TrimSuffix(x.Path, " (spoke→hub→spoke)")
		if x.Workers > 0 {
			name = fmt.Sprintf("%s w%d", x.Path, x.Workers)
		}
		i, ok := index[name]
		if !ok {
			i = len(out)
			index[name] = i
			out = append(out, PlotSeries{Name: name})
		}
		out[i].Points = append(out[i].Points, PlotPoint{Size: x.Size, Gbps: x.Gbps.Median})
	}
	for i := range out {
		slices.SortFunc(out[i].Points, func(a, b PlotPoint) int {
			return slices.Index(plotSizes, a.Size) - slices.Index(plotSizes, b.Size)
		})
	}
	return out
}

var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
	// Darker shades for the rest: a full run has about 15 paths.
	{0x0b, 0x3c, 0x5d, 0xff}, {0x99, 0x4c, 0x00, 0xff}, {0x14, 0x5a, 0x14, 0xff}, {0x7a, 0x10, 0x10, 0xff},
	{0x4b, 0x2c, 0x6e, 0xff}, {0x00, 0x00, 0x00, 0xff},
}

// WritePlot writes a PNG line chart of Gbit/s (log scale) by packet size,
// one line per path, with a legend.
func (r *Report) WritePlot(w io.Writer) error {
	return png.Encode(w, DrawPlot(r.PlotData()))
}

// DrawPlot renders series into an image.
func DrawPlot(series []PlotSeries) *image.RGBA {
	const (
		width, height = 900, 520
		left, right   = 60, 330
		top, bottom   = 30, 50
		scale         = 2 // font pixel size
	)
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	black := color.RGBA{0, 0, 0, 0xff}
	grey := color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	x0, x1, y0, y1 := left, width-right, height-bottom, top

	// Log-scale y range from the data, whole decades.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Points {
			if p.Gbps > 0 {
				lo, hi = min(lo, p.Gbps), max(hi, p.Gbps)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0.01, 10
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	yOf := func(v float64) int {
		f := (math.Log10(v) - dlo) / (dhi - dlo)
		return y0 - int(f*float64(y0-y1))
	}
	xOf := func(i int) int {
		return x0 + 30 + i*(x1-x0-60)/(len(plotSizes)-1)
	}
	// Grid and y labels per decade.
	for d := dlo; d <= dhi; d++ {
		y := yOf(math.Pow(10, d))
		hline(img, x0, x1, y, grey)
		drawText(img, x0-8-textWidth(decadeLabel(d), scale), y-2*scale, decadeLabel(d), scale, black)
	}
	// Axes.
	hline(img, x0, x1, y0, black)
	vline(img, x0, y1, y0, black)
	for i, s := range plotSizes {
		x := xOf(i)
		vline(img, x, y0, y0+5, black)
		drawText(img, x-textWidth(s, scale)/2, y0+10, upper(s), scale, black)
	}
	drawText(img, (x0+x1)/2-textWidth("BYTES", scale)/2, y0+28, "BYTES", scale, black)
	drawText(img, 8, 8, "GBIT/S", scale, black)

	for si, s := range series {
		c := palette[si%len(palette)]
		var px, py int
		for pi, p := range s.Points {
			if p.Gbps <= 0 {
				continue
			}
			x, y := xOf(slices.Index(plotSizes, p.Size)), yOf(p.Gbps)
			fillRect(img, x-3, y-3, x+3, y+3, c)
			if pi > 0 && px != 0 {
				line(img, px, py, x, y, c)
			}
			px, py = x, y
		}
		// Legend entry.
		ly := top + si*22
		fillRect(img, x1+20, ly, x1+34, ly+10, c)
		drawText(img, x1+42, ly, upper(s.Name), scale, black)
	}
	return img
}

func decadeLabel(d float64) string {
	v := math.Pow(10, d)
	if v >= 1 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%g", v)
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func fillRect(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	draw.Draw(img, image.Rect(x0, y0, x1+1, y1+1), &image.Uniform{c}, image.Point{}, draw.Src)
}

// line draws a 2-pixel-thick line with Bresenham's algorithm.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	err := dx + dy
	for {
		img.SetRGBA(x0, y0, c)
		img.SetRGBA(x0, y0+1, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * err
		if e2 >= dy {
			err += dy
			x0 += sx
		}
		if e2 <= dx {
			err += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
