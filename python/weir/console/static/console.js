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

// The usage filters' times are typed in the viewer's zone: sent as UTC (an ISO time ending in Z, which the server
// reads as it is), shown back in the viewer's zone. A time with its own offset, or epoch milliseconds, is kept.
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/;

function pad(n) {
  return String(n).padStart(2, "0");
}

function localTimeInputs() {
  for (const input of document.querySelectorAll("input[data-local-time]")) {
    const moment = /(Z|[+-]\d{2}:\d{2})$/.test(input.value) ? new Date(input.value) : null;
    if (moment && !isNaN(moment)) {
      input.value = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}` +
        `T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
    }
    input.form.addEventListener("submit", () => {
      const text = input.value.trim();
      if (!LOCAL_TIME.test(text)) return;
      const local = new Date(text.includes("T") ? text : `${text}T00:00`); // no offset: the viewer's zone
      if (!isNaN(local)) input.value = local.toISOString();
    });
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
  localTimeInputs();
  copyButtons();
});
window.addEventListener("load", charts); // after chart.umd.js, which is deferred too
