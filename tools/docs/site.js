// alexnet-nb docs: typeset math with KaTeX (loaded before this script, all with `defer`).
document.addEventListener("DOMContentLoaded", function () {
  var main = document.querySelector("main");
  if (main && window.renderMathInElement) {
    renderMathInElement(main, {
      delimiters: [
        {left: "$$", right: "$$", display: true},
        {left: "\\[", right: "\\]", display: true},
        {left: "\\begin{equation}", right: "\\end{equation}", display: true},
        {left: "\\begin{align}", right: "\\end{align}", display: true},
        {left: "\\(", right: "\\)", display: false},
        {left: "$", right: "$", display: false}
      ],
      ignoredClasses: ["no-math"],
      throwOnError: false
    });
  }
  // close the mobile menu after a click on one of its links
  document.querySelectorAll(".sidebar a").forEach(function (a) {
    a.addEventListener("click", function () { var t = document.getElementById("nav-toggle"); if (t) t.checked = false; });
  });
});
