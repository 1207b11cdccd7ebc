/** @type {AppTypes.Config} */

// pacsnode's configuration for the OHIF viewer (@ohif/app 3.13.2, installed by
// scripts/viewer into web/vendor/ohif/). The HTTP server serves the viewer at `/` and
// answers `/app-config.js` with this file instead of the one in dist/. Its structure
// follows dist/app-config.js of that version (config/default.js); what differs is the
// data source, pointed at pacsnode's own DICOMweb door on the same origin, so that no
// CORS or COOP/COEP headers are needed.
//
// What the server must answer for the viewer:
//   - Static files from web/vendor/ohif/, at the root: /index.html, /app-config.js (this
//     file), /init-service-worker.js, /app.bundle.<hash>.js and the other
//     /<n>.bundle.<hash>.js chunks, /*.css, /*.wasm (codecs; send them as
//     application/wasm or the browser refuses to compile them streaming), /*.woff2,
//     /assets/*, /manifest.json, /customizations/*, /ort/*, /dicom-microscopy-viewer/*.
//     index.html refers to them by absolute paths (its PUBLIC_URL is '/').
//   - index.html (200, text/html) for every other GET under the viewer that is not a
//     file and not an API path: the viewer routes on the client, so /, /viewer,
//     /viewer?StudyInstanceUIDs=<uid>[,<uid>…], /segmentation?…, /tmtv?…, /microscopy?…,
//     /localbasic and the like must all load index.html (the dist's own _redirects and
//     serve.json say the same: "/* /index.html 200"). API paths (/dicom-web/…, /api/…,
//     /metrics) never fall back: an unknown one is a 404 there.
//   - DICOMweb under /dicom-web: QIDO-RS (/studies, /studies/{s}/series), WADO-RS
//     metadata (/studies/{s}/series/{se}/metadata) and frames
//     (/studies/{s}/series/{se}/instances/{i}/frames/{n}); see tests/browser/README.md for
//     the requests and Accept headers the viewer sends.
window.config = {
  name: 'pacsnode',
  // The viewer lives at the root of pacsnode's HTTP server.
  routerBasename: '/',
  extensions: [],
  modes: [],
  customizationService: {},
  // Native ("next") generic viewports stay off, as in the default build.
  genericViewports: {
    enabled: false,
  },
  showStudyList: true,
  // some windows systems have issues with more than 3 web workers
  maxNumberOfWebWorkers: 3,
  // Same origin: the cross-origin isolation warning would only be noise.
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: true,
  showLoadingIndicator: true,
  experimentalStudyBrowserSort: false,
  strictZSpacingForVolumeViewport: true,
  groupEnabledModesFirst: true,
  allowMultiSelectExport: false,
  maxNumRequests: {
    interaction: 100,
    thumbnail: 5,
    // Prefetch number is dependent on the http protocol. pacsnode speaks HTTP/1.1, where
    // the browser opens at most six connections per origin anyway.
    prefetch: 25,
  },
  showErrorDetails: 'always', // 'always', 'dev', 'production'
  defaultDataSourceName: 'pacsnode',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'pacsnode',
      configuration: {
        friendlyName: 'pacsnode',
        name: 'pacsnode',
        // Relative roots: the same origin that served the viewer, whatever host name or
        // proxy the user reached it by.
        wadoUriRoot: '/dicom-web',
        qidoRoot: '/dicom-web',
        wadoRoot: '/dicom-web',
        // pacsnode's QIDO-RS honours includefield, so the study list gets
        // StudyDescription, ModalitiesInStudy and the counts in one query.
        qidoSupportsIncludeField: true,
        // QIDO matching is DICOM's (the C-FIND engine): `*` and `?` wildcards, no fuzzy
        // matching of person names.
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        // The viewer decodes frames itself (WADO-RS /frames), thumbnails too; pacsnode
        // need not render JPEGs.
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        // Series metadata is fetched per series as the viewer needs it.
        enableStudyLazyLoad: true,
        // A real DICOMweb server, not a static file tree of pre-rendered answers.
        staticWado: false,
        // Bulk data (and video) requests expect a single-part
        // application/octet-stream body rather than multipart/related.
        singlepart: 'bulkdata,video',
        // BulkDataURIs that start with '/' are used as they are; relative ones are
        // resolved against /dicom-web/studies/{study}/. pacsnode should emit
        // server-relative ones (/dicom-web/studies/…/bulk/…).
        bulkDataURI: {
          enabled: true,
          relativeResolution: 'studies',
          transform: url => url.replace('/pixeldata.mp4', '/rendered'),
        },
        // Accept: multipart/related; type=application/octet-stream; transfer-syntax=*
        // without quotes around the parameter values.
        omitQuotationForMultipartRequest: true,
      },
    },
  ],
  httpErrorHandler: error => {
    // The data source's requests failed with this HTTP status (401 when the session's
    // credentials are missing or wrong).
    console.warn('pacsnode: DICOMweb request failed with status', error.status);
  },
};
