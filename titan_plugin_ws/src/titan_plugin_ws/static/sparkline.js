// Sparklines: a small inline SVG of a number's recent values. Drawn here, in a few lines, so the
// console needs nothing fetched at runtime (no chart library, no CDN) and works offline.
"use strict";

const SPARK_POINTS = 60; // values kept per element; older ones drop out on the left
const SPARK_WIDTH = 96;
const SPARK_HEIGHT = 22;
const SPARK_PAD = 3; // room for the end dot and the stroke at the edges
const SVG_NS = "http://www.w3.org/2000/svg";

function svgElement(name, attributes) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function roundForSvg(number) {
  return Math.round(number * 10) / 10;
}

// The x and y of each value: spread over the whole width, the newest at the right edge; y between
// the lowest and the highest value (a flat line in the middle while they are all equal).
function sparkPoints(values) {
  const step = values.length > 1 ? (SPARK_WIDTH - 2 * SPARK_PAD) / (values.length - 1) : 0;
  const low = Math.min(...values);
  const high = Math.max(...values);
  const span = high - low;
  return values.map((value, index) => {
    const x = SPARK_WIDTH - SPARK_PAD - (values.length - 1 - index) * step;
    const y = span === 0 ? SPARK_HEIGHT / 2 : SPARK_HEIGHT - SPARK_PAD - ((value - low) / span) * (SPARK_HEIGHT - 2 * SPARK_PAD);
    return [roundForSvg(x), roundForSvg(y)];
  });
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

// A `<span class="spark">` holding the SVG; the span carries the hover text (an HTML `title`
// works on a span, not on an inline SVG) and `data-points`, the number of values drawn.
function createSparkline() {
  const holder = document.createElement("span");
  holder.className = "spark";
  return holder;
}

function drawSparkline(holder, values) {
  holder.dataset.points = String(values.length);
  const svg = svgElement("svg", {
    width: SPARK_WIDTH,
    height: SPARK_HEIGHT,
    viewBox: `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`,
    "aria-hidden": "true",
    focusable: "false",
  });
  if (values.length < 2) {
    // A faint track, so a lone first value reads as the start of a line, not a stray dot.
    const middle = SPARK_HEIGHT / 2;
    svg.append(svgElement("line", { class: "base", x1: SPARK_PAD, y1: middle, x2: SPARK_WIDTH - SPARK_PAD, y2: middle }));
  }
  if (values.length) {
    const points = sparkPoints(values);
    const line = points.map(([x, y]) => `${x},${y}`).join(" ");
    if (points.length > 1) {
      const [firstX] = points[0];
      const [lastX] = points[points.length - 1];
      const bottom = SPARK_HEIGHT - 1;
      svg.append(svgElement("polygon", { class: "area", points: `${firstX},${bottom} ${line} ${lastX},${bottom}` }));
      svg.append(svgElement("polyline", { class: "line", points: line }));
    }
    const [x, y] = points[points.length - 1];
    svg.append(svgElement("circle", { class: "dot", cx: x, cy: y, r: 2.2 }));
    const low = formatNumber(Math.min(...values));
    const high = formatNumber(Math.max(...values));
    holder.title = `last ${values.length} value${values.length === 1 ? "" : "s"}: lowest ${low}, highest ${high}`;
  }
  holder.replaceChildren(svg);
}

// Adds `value` to `values` (dropping the oldest beyond SPARK_POINTS) and redraws.
function pushSparkValue(holder, values, value) {
  values.push(value);
  if (values.length > SPARK_POINTS) values.splice(0, values.length - SPARK_POINTS);
  drawSparkline(holder, values);
}
