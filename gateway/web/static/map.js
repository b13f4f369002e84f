// The map of the search results: Leaflet (served locally), markers from the GeoJSON endpoint. Tiles are
// optional: set data-tiles on #carte (ROR_MAP_TILES_URL); without them the markers stand on a blank map.
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("carte");
  if (!box || typeof L === "undefined") { return; }
  L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
  var map = L.map(box, { keyboard: true });
  if (box.dataset.tiles) { L.tileLayer(box.dataset.tiles, { maxZoom: 18 }).addTo(map); }
  fetch(box.dataset.geojson, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
    var layer = L.geoJSON(data, { onEachFeature: function (feature, marker) {
      var p = feature.properties || {};
      marker.bindPopup(document.createTextNode(p.name || ""));
    } }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 13 }); } else { map.setView([46.6, 2.4], 5); }
    box.setAttribute("data-markers", String(layer.getLayers().length));
  });
});
