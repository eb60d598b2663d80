// djqueue's bulk actions: a box that picks every message of a list page,
// and progress pages that post their next step by themselves. Both work
// without this script (the boxes one by one, the Continue button).
"use strict";
document.querySelectorAll("form[data-djq-continue]").forEach(function (form) {
    form.requestSubmit ? form.requestSubmit() : form.submit();
});
document.querySelectorAll("input[data-djq-pick-page]").forEach(function (all) {
    var boxes = document.querySelectorAll("input[name=ids][form='" + all.getAttribute("form") + "']");
    all.hidden = false;
    all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
    });
});
