// Weir console: times in the viewer's zone, the copy button, and the overview's charts (Chart.js, vendored beside
// this file). No inline script anywhere: the Content-Security-Policy allows only these files.
"use strict";

function localTimes() {
  for (const el of document.querySelectorAll("time[datetime]")) {
    const moment = new Date(el.getAttribute("datetime"));
    if (!isNaN(moment)) {
      el.title = el.textContent;
      el.textContent = moment.toLocaleString();
    }
  }
}

function copyButtons() {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent.trim();
      try {
        await navigator.clipboard.writeText(text);
      } catch (err) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  }
}

function charts() {
  const data = document.getElementById("chart-data");
  if (!data || typeof window.Chart === "undefined") return;
  const chart = JSON.parse(data.textContent);
  const options = () => ({
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { display: false } },
    scales: { y: { beginAtZero: true } },
  });
  new window.Chart(document.getElementById("spend-chart"), {
    type: "bar",
    data: { labels: chart.days, datasets: [{ label: "USD", data: chart.spend_usd, backgroundColor: "#2f6fdf" }] },
    options: options(),
  });
  new window.Chart(document.getElementById("models-chart"), {
    type: "bar",
    data: { labels: chart.models, datasets: [{ label: "calls", data: chart.calls, backgroundColor: "#18a058" }] },
    options: options(),
  });
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes();
  copyButtons();
});
window.addEventListener("load", charts); // after chart.umd.js, which is deferred too
