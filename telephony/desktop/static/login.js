// The sign-in form works without script; this only puts the cursor where it is needed.
const field = document.querySelector("input[name=username]");
if (field && field.value) document.querySelector("input[name=password]").focus();
