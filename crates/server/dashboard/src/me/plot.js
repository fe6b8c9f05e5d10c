// The nearby-cases plot: the searched place in the middle, distance rings, and each point
// placed by its bearing and distance (an equirectangular projection around the centre, good to
// well under a percent over the 50 km the search allows). Drawn as SVG, no map tiles: nothing
// is fetched from outside the server.

const SVG = "http://www.w3.org/2000/svg";
/// The plot's radius in SVG units (the viewBox is -170…170).
const R = 150;

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/// Metres east and north of (lat0, lon0).
export function offset(lat0, lon0, lat, lon) {
  const rad = Math.PI / 180;
  const east = (lon - lon0) * rad * 6371008.8 * Math.cos(lat0 * rad);
  const north = (lat - lat0) * rad * 6371008.8;
  return [east, north];
}

/// "800 m", "3 km", "2.5 km".
export function distanceText(m) {
  if (m < 1000) return `${Math.round(m)} m`;
  const km = m / 1000;
  return `${km < 10 ? Math.round(km * 10) / 10 : Math.round(km)} km`;
}

/// Draws `answer` ({lat, lon, radius_m, points}) into `svg`. `label(p)` is a point's title;
/// `you` the centre's. Returns the ring distances drawn.
export function drawPlot(svg, answer, label, you) {
  svg.replaceChildren();
  const scale = R / answer.radius_m;
  const rings = [1 / 3, 2 / 3, 1].map((f) => f * answer.radius_m);
  for (const d of rings) {
    svg.append(el("circle", { cx: 0, cy: 0, r: d * scale, class: "ring" }));
    // Labelled on the east axis, inside each ring, clear of the north mark.
    svg.append(el("text", { x: d * scale - 3, y: -4, class: "ring-label" }, distanceText(d)));
  }
  svg.append(el("line", { x1: -R, y1: 0, x2: R, y2: 0, class: "axis" }));
  svg.append(el("line", { x1: 0, y1: -R, x2: 0, y2: R, class: "axis" }));
  svg.append(el("text", { x: 0, y: -R - 6, class: "north" }, "N"));
  // Largest first so the small ones stay clickable on top.
  const points = [...answer.points].sort((a, b) => b.cases - a.cases);
  points.forEach((p) => {
    const [e, n] = offset(answer.lat, answer.lon, p.lat, p.lon);
    const x = Math.max(-R, Math.min(R, e * scale));
    const y = Math.max(-R, Math.min(R, -n * scale));
    const size = 4 + Math.min(8, Math.sqrt(p.cases) * 2.5);
    const g = el("g", { class: `pt pt-${p.kind}`, "data-index": answer.points.indexOf(p) });
    // Shape as well as colour: a circle for a place, a diamond for a ride.
    if (p.kind === "venue") {
      g.append(el("circle", { cx: x, cy: y, r: size }));
    } else {
      g.append(
        el("rect", {
          x: x - size,
          y: y - size,
          width: 2 * size,
          height: 2 * size,
          transform: `rotate(45 ${x} ${y})`,
        }),
      );
    }
    g.append(el("text", { x, y: y + 3.5, class: "pt-label" }, String(answer.points.indexOf(p) + 1)));
    g.append(el("title", {}, label(p)));
    svg.append(g);
  });
  svg.append(el("circle", { cx: 0, cy: 0, r: 6, class: "you" }));
  svg.append(el("text", { x: 9, y: 14, class: "you-label" }, you));
  return rings;
}
